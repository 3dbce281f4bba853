"""Architecture, API and numerical behaviour of the LIA model."""

from __future__ import annotations

import ast

import pytest
import torch

from liaviz import LIA, LIAConfig

from .conftest import REFERENCE, REPO, TINY, needs_shared, official_manifest


def assert_nearly_equal(a: torch.Tensor, b: torch.Tensor) -> None:
    # Different batch sizes pick different conv kernels; as in the official code, a few pixels near
    # warps move by ~1e-4 while a formula slip would move everything by ~1e-2.
    diff = (a - b).abs()
    assert diff.mean() < 1e-5 and diff.max() < 1e-3, (diff.mean(), diff.max())


@needs_shared(REFERENCE)
@pytest.mark.parametrize("size", [64, 128, 256])
def test_state_dict_matches_official_manifest(size):
    manifest = official_manifest(size)
    state = LIA(LIAConfig(size=size)).state_dict()
    assert list(state) == list(manifest)
    for key, shape in manifest.items():
        assert list(state[key].shape) == shape, key


def test_size_512_follows_the_official_pattern():
    state = LIA(LIAConfig(size=512)).state_dict()
    assert state["enc.net_app.convs.0.0.weight"].shape == (32, 3, 1, 1)
    assert state["dec.convs.13.conv.weight"].shape == (1, 32, 32, 3, 3)
    assert state["dec.to_flows.6.conv.weight"].shape == (1, 3, 32, 1, 1)
    assert state["enc.net_app.convs.8.weight"].shape == (512, 512, 4, 4)  # 1x1, 7 blocks, final


def test_size_512_runs():
    config = LIAConfig(
        size=512, latent_dim=16, motion_dim=4, channel_multiplier=1 / 32, channel_max=8
    )
    model = LIA(config).eval()
    with torch.inference_mode():
        x = torch.rand(1, 3, 512, 512) * 2 - 1
        state = model.encode_source(x)
        assert [f.shape[-1] for f in state.features] == [8, 16, 32, 64, 128, 256, 512]
        out = model.decode(state, model.self_latent(state))
    assert out.shape == (1, 3, 512, 512) and torch.isfinite(out).all()


def test_channel_widths_are_configurable():
    config = LIAConfig(size=128, channel_multiplier=0.5, channel_max=128)
    assert [config.channels(r) for r in (4, 32, 64, 128)] == [128, 128, 128, 64]
    small = sum(p.numel() for p in LIA(config).parameters())
    full = sum(p.numel() for p in LIA(LIAConfig(size=128)).parameters())
    assert small < full / 4


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(size=100),
        dict(size=8),
        dict(motion_dim=0),
        dict(motion_dim=600),
        dict(channel_multiplier=0),
    ],
)
def test_invalid_configs_are_refused(kwargs):
    with pytest.raises(ValueError):
        LIAConfig(**kwargs)


def test_config_round_trips_through_dict():
    config = LIAConfig(size=128, motion_dim=10, channel_multiplier=0.5)
    assert LIAConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        LIAConfig.from_dict({**config.to_dict(), "depth": 3})


def test_directions_are_orthonormal(tiny_model):
    q = tiny_model.directions()
    assert q.shape == (TINY.latent_dim, TINY.motion_dim)
    torch.testing.assert_close(q.t() @ q, torch.eye(TINY.motion_dim), atol=1e-5, rtol=0)


def test_motion_path_is_the_linear_combination_of_directions(tiny_model):
    alpha = torch.randn(5, TINY.motion_dim)
    q = tiny_model.directions()
    expected = sum(alpha[:, i : i + 1] * q[:, i] for i in range(TINY.motion_dim))
    torch.testing.assert_close(tiny_model.motion_path(alpha), expected, atol=1e-5, rtol=1e-5)


def test_batch_equals_single_frames(tiny_model):
    torch.manual_seed(1)
    source = torch.rand(1, 3, 64, 64) * 2 - 1
    frames = torch.rand(4, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(source)
        batched = tiny_model.decode(
            state, tiny_model.absolute_latent(state, tiny_model.encode_motion(frames))
        )
        single = torch.cat(
            [
                tiny_model.decode(
                    state, tiny_model.absolute_latent(state, tiny_model.encode_motion(f[None]))
                )
                for f in frames
            ]
        )
    assert_nearly_equal(batched, single)


def test_batched_sources_decode_their_own_codes(tiny_model):
    sources = torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(sources)
        together = tiny_model.decode(state, tiny_model.self_latent(state))
        apart = torch.cat(
            [
                tiny_model.decode(state.select(i), tiny_model.self_latent(state.select(i)))
                for i in range(3)
            ]
        )
        with pytest.raises(ValueError, match="do not match"):
            tiny_model.decode(state, torch.zeros(2, TINY.latent_dim))
    assert_nearly_equal(together, apart)


def test_relative_transfer_with_the_start_frame_is_self_reconstruction(tiny_model):
    source = torch.rand(1, 3, 64, 64) * 2 - 1
    driving = torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(source)
        alpha = tiny_model.encode_motion(driving)
        z = tiny_model.relative_latent(state, alpha, alpha[0])
        torch.testing.assert_close(z[0], tiny_model.self_latent(state)[0], atol=1e-5, rtol=1e-5)
        # an edit of zero is the source's own code; an edit along d_i moves along d_i only
        zero_edit = tiny_model.edit_latent(state, torch.zeros(1, TINY.motion_dim))
        torch.testing.assert_close(zero_edit, tiny_model.self_latent(state))
        e = torch.zeros(1, TINY.motion_dim)
        e[0, 2] = 1.5
        moved = tiny_model.edit_latent(state, e) - tiny_model.self_latent(state)
        torch.testing.assert_close(
            moved[0], 1.5 * tiny_model.directions()[:, 2], atol=1e-5, rtol=1e-5
        )


def test_decode_returns_flows_and_masks(tiny_model):
    with torch.inference_mode():
        state = tiny_model.encode_source(torch.zeros(1, 3, 64, 64))
        out = tiny_model.decode(state, tiny_model.reference_latent(state), return_flows=True)
    assert [f.shape[1] for f in out.flows] == TINY.resolutions
    assert all(f.shape[-1] == 2 for f in out.flows)
    assert all(((m > 0) & (m < 1)).all() for m in out.masks)
    with torch.inference_mode():
        plain = tiny_model.decode(state, tiny_model.reference_latent(state))
    torch.testing.assert_close(out.image, plain)


def test_training_forward_has_gradients_everywhere_that_is_used(tiny_model):
    model = tiny_model.train()
    source = torch.rand(2, 3, 64, 64) * 2 - 1
    driving = torch.rand(2, 3, 64, 64) * 2 - 1
    recon, alpha = model(source, driving, return_motion=True)
    (recon.abs().mean() + alpha.abs().mean()).backward()
    unused = {"dec.to_rgb1", "noise.weight"}  # present for checkpoint compatibility only
    for name, param in model.named_parameters():
        if any(u in name for u in unused):
            continue
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_training_forward_is_absolute_transfer(tiny_model):
    """The one training forward reconstructs the driving frames by eq. 11, from the source's
    latent and the driving frames' magnitudes, as inference composes it from the public steps."""
    torch.manual_seed(2)
    source = torch.rand(2, 3, 64, 64) * 2 - 1
    driving = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        recon, alpha = tiny_model(source, driving, return_motion=True)
        plain = tiny_model(source, driving)
        latent, _, features = tiny_model.enc(source)  # z_{s->r} straight from the encoder
        magnitudes = tiny_model.enc.fc(tiny_model.enc.net_app(driving)[0])
        q = tiny_model.directions()
        expected = tiny_model.dec(latent + magnitudes @ q.t(), features)  # z_{s->r} + sum a_i d_i
    torch.testing.assert_close(alpha, magnitudes)
    assert_nearly_equal(recon, expected)
    torch.testing.assert_close(plain, recon)


def test_zero_init_heads_decode_an_identity_warp(tiny_model):
    """Zeroed heads: every level warps by the identity grid with mask 1/2 and adds no colour,
    whatever the source and the code; the rest of the network keeps its weights."""
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    tiny_model.zero_init_heads()
    changed = {k for k, v in tiny_model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(".to_flows." in k or ".to_rgbs." in k for k in changed), changed
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(x)
        out = tiny_model.decode(state, tiny_model.self_latent(state), return_flows=True)
    for flow, mask in zip(out.flows, out.masks, strict=True):
        r = flow.shape[1]
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, r), torch.linspace(-1, 1, r), indexing="ij")
        grid = torch.stack([xs, ys], dim=-1).expand_as(flow)  # x, y in [-1, 1]: align_corners
        torch.testing.assert_close(flow, grid, atol=1e-6, rtol=0)
        torch.testing.assert_close(mask, torch.full_like(mask, 0.5), atol=1e-6, rtol=0)
    assert out.image.std(dim=(2, 3)).max() < 1e-5  # a flat image: only the RGB biases


def test_no_motion_dictionary_ablation():
    config = LIAConfig(**{**TINY.to_dict(), "motion_dictionary": False})
    model = LIA(config).eval()
    assert "dec.direction.weight" not in model.state_dict()
    with torch.inference_mode():
        x = torch.rand(2, 3, 64, 64) * 2 - 1
        state = model.encode_source(x)
        assert state.alpha.shape == (2, config.latent_dim)
        assert model.decode(state, model.self_latent(state)).shape == (2, 3, 64, 64)
    with pytest.raises(RuntimeError, match="without a motion dictionary"):
        model.directions()


def test_bad_image_shapes_are_refused(tiny_model):
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        tiny_model.encode_source(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        tiny_model.encode_motion(torch.zeros(3, 3, 32, 32))


def _calls(model: LIA, bad_images=None, bad_alpha=None, bad_z=None):
    """Every public method that takes a tensor, with one argument replaced."""
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    state = model.encode_source(x)
    alpha = model.encode_motion(x)
    z = model.self_latent(state)
    a = alpha if bad_alpha is None else bad_alpha
    return {
        "encode_source": lambda: model.encode_source(x if bad_images is None else bad_images),
        "encode_motion": lambda: model.encode_motion(x if bad_images is None else bad_images),
        "forward": lambda: model(x, x if bad_images is None else bad_images),
        "motion_path": lambda: model.motion_path(a),
        "absolute_latent": lambda: model.absolute_latent(state, a),
        "absolute_latent gains": lambda: model.absolute_latent(state, a, torch.ones(6)),
        "relative_latent": lambda: model.relative_latent(state, a, alpha[0]),
        "relative_latent start": lambda: model.relative_latent(state, alpha, a[0]),
        "edit_latent": lambda: model.edit_latent(state, a),
        "decode": lambda: model.decode(state, z if bad_z is None else bad_z),
    }


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float64, torch.float16])
def test_inputs_of_another_dtype_are_one_clear_error(tiny_model, dtype):
    """Checked on the way in (as diffusers' check_inputs): not a dtype error from a layer."""
    images = (torch.rand(2, 3, 64, 64) * 255).to(dtype)
    alpha, z = (
        torch.zeros(2, TINY.motion_dim, dtype=dtype),
        torch.zeros(2, TINY.latent_dim, dtype=dtype),
    )
    with torch.inference_mode():
        for name, call in _calls(tiny_model, images, alpha, z).items():
            if name in ("absolute_latent gains",):
                continue
            with pytest.raises(
                TypeError, match=f"must be float32 \\(the model's dtype\\).*got {str(dtype)[6:]}"
            ):
                call()
        with pytest.raises(TypeError, match="gains must be float32"):
            tiny_model.absolute_latent(
                tiny_model.encode_source(images.float()), alpha.float(), torch.ones(6, dtype=dtype)
            )
        with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
            tiny_model.encode_source(images.float().numpy())


def test_a_wrong_number_of_directions_is_one_clear_error(tiny_model):
    m, d = TINY.motion_dim, TINY.latent_dim
    with torch.inference_mode():
        for name, call in _calls(tiny_model, bad_alpha=torch.zeros(2, m + 1)).items():
            if name.split()[0] in ("encode_source", "encode_motion", "forward", "decode"):
                continue
            with pytest.raises(
                ValueError,
                match=f"must be \\(\\.\\.\\., {m}\\), got \\(2, {m + 1}\\)|got \\({m + 1},\\)",
            ):
                call()
        with pytest.raises(ValueError, match=f"z must be \\(T, {d}\\), got \\(2, 3, {d}\\)"):
            _calls(tiny_model, bad_z=torch.zeros(2, 3, d))["decode"]()


def test_bfloat16_autocast_runs_and_stays_close(tiny_model):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(x)
        ref = tiny_model.decode(state, tiny_model.self_latent(state), return_flows=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low_state = tiny_model.encode_source(x)
            low = tiny_model.decode(state, tiny_model.self_latent(state), return_flows=True)
    assert torch.isfinite(low.image).all()
    rel = (low_state.latent.float() - state.latent).abs().mean() / state.latent.abs().mean()
    assert rel < 0.02
    for flow, low_flow in zip(ref.flows, low.flows, strict=True):
        assert low_flow.dtype == torch.float32  # sampling positions stay in float32
        assert (flow - low_flow).abs().mean() < 0.01
    # Random-weight features are noise-like, so a sub-pixel shift changes pixels a lot; the image
    # must still be the same picture.
    image, low_image = ref.image.flatten(), low.image.float().flatten()
    assert torch.corrcoef(torch.stack([image, low_image]))[0, 1] > 0.9


def test_model_follows_dtype_and_grid_buffers_are_not_saved(tiny_model):
    model = tiny_model.to(torch.float64)
    with torch.inference_mode():
        out, alpha = model(
            torch.zeros(1, 3, 64, 64, dtype=torch.float64),
            torch.zeros(1, 3, 64, 64, dtype=torch.float64),
            return_motion=True,
        )
    assert out.dtype == torch.float64 and alpha.dtype == torch.float64
    assert not any(k.endswith("grid") for k in model.state_dict())


def test_model_follows_its_device(tiny_model):
    """Every tensor the model makes is made where its inputs are, not on the default device:
    with the default device set to meta (shapes only, no data), a tensor made without
    following its input would be a meta tensor that fails to mix with the CPU ones."""
    torch.manual_seed(4)
    x = torch.rand(2, 3, 64, 64) * 2 - 1

    def run():
        with torch.inference_mode():
            state = tiny_model.encode_source(x)
            alpha = tiny_model.encode_motion(x.flip(0))
            return [
                tiny_model.decode(state, tiny_model.relative_latent(state, alpha, alpha[0])),
                tiny_model.decode(state, tiny_model.edit_latent(state, alpha), True).image,
                *tiny_model(x, x.flip(0), return_motion=True),
            ]

    expected = run()
    with torch.device("meta"):
        got = run()
    for a, b in zip(got, expected, strict=True):
        assert a.device.type == "cpu"
        torch.testing.assert_close(a, b)


def test_nn_imports_nothing_else_of_liaviz():
    """liaviz/nn is pure torch: its modules import each other and third-party packages, never
    the rest of liaviz (checkpoints, I/O, the runtime)."""
    nn_dir = REPO / "liaviz" / "nn"
    offenders = []
    for path in sorted(nn_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:  # relative: within nn only
                names = [] if node.level == 1 else [f"{'.' * node.level}{node.module or ''}"]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module] if node.module.split(".")[0] == "liaviz" else []
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "liaviz"]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if not n.startswith("liaviz.nn")]
    assert len(list(nn_dir.glob("*.py"))) >= 8
    assert offenders == []


def test_cpu_chunking_gives_the_same_results(tiny_model, monkeypatch):
    import liaviz.nn.lia as lia_module

    source = torch.rand(1, 3, 64, 64) * 2 - 1
    frames = torch.rand(5, 3, 64, 64) * 2 - 1
    with torch.inference_mode():
        state = tiny_model.encode_source(source)
        alpha = tiny_model.encode_motion(frames)
        whole = tiny_model.decode(state, tiny_model.absolute_latent(state, alpha), True)
        per_frame = TINY.channels(64) * 64 * 64 * 4
        monkeypatch.setattr(lia_module, "CPU_CHUNK_BYTES", 2 * per_frame)  # 2 frames a pass
        assert tiny_model._chunk_size(frames) == 2
        chunked_alpha = tiny_model.encode_motion(frames)
        chunked = tiny_model.decode(state, tiny_model.absolute_latent(state, chunked_alpha), True)
    assert_nearly_equal(chunked_alpha, alpha)
    assert_nearly_equal(chunked.image, whole.image)
    for a, b in zip(chunked.flows + chunked.masks, whole.flows + whole.masks, strict=True):
        assert a.shape == b.shape
        assert_nearly_equal(a, b)
