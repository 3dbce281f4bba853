"""The model against outputs of the official LIA code (shared/reference/golden).

These must run wherever ../shared exists: they are what proves liaviz is LIA.
"""

from __future__ import annotations

import pytest
import torch

from liaviz import LIA, LIAConfig

from ._golden import MAX_TOL, MEAN_TOL, deterministic_official_weights, u8_to_tensor
from .conftest import REFERENCE, needs_shared


@pytest.fixture(scope="module", params=[64, 256])
def golden(request):
    path = REFERENCE / "golden" / f"official_golden_{request.param}.pt"
    if not path.exists():
        pytest.skip(f"{path} not available")
    data = torch.load(path, weights_only=True)
    model = LIA(LIAConfig(size=int(data["size"]))).eval()
    model.load_state_dict(deterministic_official_weights(model))
    with torch.inference_mode():
        state = model.encode_source(u8_to_tensor(data["source_u8"]))
        alpha = model.encode_motion(u8_to_tensor(data["driving_u8"]))
    return model, state, alpha, data


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    diff = (actual - expected).abs()
    assert diff.mean() < MEAN_TOL and diff.max() < MAX_TOL, (diff.mean(), diff.max())


def test_fir_kernels_match_official_buffers(golden):
    model, _, _, data = golden
    state_dict = model.state_dict()
    for key, kernel in data["kernels"].items():
        assert torch.equal(state_dict[key], kernel), key


def test_encoder_latent_and_magnitudes(golden):
    _, state, alpha, data = golden
    assert_close(state.latent, data["source_latent_wa"])
    assert_close(state.alpha, data["source_alpha"])
    assert_close(alpha, data["driving_alpha"])


def test_directions(golden):
    model, _, _, data = golden
    assert_close(model.directions(), data["directions_Q"])


def test_absolute_relative_reference(golden):
    model, state, alpha, data = golden
    with torch.inference_mode():
        assert_close(model.decode(state, model.absolute_latent(state, alpha)), data["absolute"])
        relative = model.relative_latent(state, alpha, alpha[0])
        assert_close(model.decode(state, relative), data["relative"])
        assert_close(model.decode(state, model.reference_latent(state)), data["reference"])


def test_linear_manipulation(golden):
    model, state, _, data = golden
    values = data["manipulation_values"].float()
    for row, direction in enumerate(data["manipulation_dirs"].tolist()):
        offsets = torch.zeros(len(values), model.config.motion_dim)
        offsets[:, direction] = values
        with torch.inference_mode():
            images = model.decode(state, model.edit_latent(state, offsets))
        assert_close(images, data["manipulation"][row])


@needs_shared(REFERENCE)
def test_golden_files_are_present():
    # The golden tests above skip only when ../shared is absent; if it is there they must run.
    for size in (64, 256):
        assert (REFERENCE / "golden" / f"official_golden_{size}.pt").exists()
