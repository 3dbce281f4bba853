"""Direction anatomy: the flow decomposition against analytic flows, the labels and presets, the
JSON, and the labels of the embedded model against the synthetic renderer's ground truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import liaviz
from liaviz.analysis.anatomy import (
    COMPONENTS,
    Anatomy,
    AnatomyError,
    DirectionAnatomy,
    analyze_directions,
    decompose_flow,
    fit_weights,
    label_direction,
    load_anatomy,
    preset_mute,
    weighted_box,
    write_anatomy,
)
from liaviz.data.synthetic import FACTORS, Identity, render_face
from liaviz.demo import EMBEDDED_MODEL
from liaviz.io import to_tensor

R = 64
AXIS = np.linspace(-1.0, 1.0, R)
Y, X = np.meshgrid(AXIS, AXIS, indexing="ij")
GRID = np.stack([X, Y], -1)


def _field(fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
    return np.stack([np.broadcast_to(fx, (R, R)), np.broadcast_to(fy, (R, R))], -1)


def _exact(kind: str, amount: float) -> np.ndarray:
    """The change of the sampling positions for an exact similarity about the centre."""
    if kind == "translate_x":
        new = GRID + [amount, 0.0]
    elif kind == "translate_y":
        new = GRID + [0.0, amount]
    elif kind == "rotate":
        c, s = math.cos(amount), math.sin(amount)
        new = _field(c * X - s * Y, s * X + c * Y)
    else:
        new = GRID * (1.0 + amount)
    return new - GRID


@pytest.mark.parametrize(
    "kind, amount",
    [("translate_x", 0.04), ("translate_y", -0.03), ("rotate", 0.05), ("scale", 0.06)],
)
def test_pure_similarities_are_recovered(kind, amount):
    dec = decompose_flow(_exact(kind, amount))
    k = COMPONENTS.index(kind)
    assert dec.shares[0, k] > 0.99
    assert dec.local[0] < 0.005
    # to first order each field is amount * its basis field
    assert dec.coefficients[0, k] == pytest.approx(amount, rel=0.01)
    assert dec.shares[0].sum() + dec.local[0] == pytest.approx(1.0)


def test_mixture_shares_follow_the_energies():
    # uniform weights on a centred grid: the four basis fields are orthogonal, so each share is
    # its own field's energy over the total
    t, theta = 0.02, 0.03
    noise = np.random.default_rng(0).normal(0, 0.01, (R, R, 2))
    d = t * _field(np.ones_like(X), 0 * X) + theta * _field(-Y, X) + noise
    e_t, e_r, e_n = t**2 * R * R, theta**2 * (X**2 + Y**2).sum(), (noise**2).sum()
    dec = decompose_flow(d)
    total = (d**2).sum()
    assert dec.shares[0, 0] == pytest.approx(e_t / total, abs=0.01)
    assert dec.shares[0, 2] == pytest.approx(e_r / total, abs=0.01)
    assert dec.local[0] == pytest.approx(e_n / total, abs=0.01)


def _head_scene():
    """A textured image, a head (disc at the centre) over a still background, and three flow
    changes: the head shifted, the head rolled, and a mouth patch moved down."""
    rng = np.random.default_rng(3)
    image = (rng.random((R, R, 3)) * 255).astype(np.uint8)
    head = (X**2 + Y**2) < 0.55**2
    mouth = (np.abs(X) < 0.15) & (np.abs(Y - 0.35) < 0.08)
    shift = _field(0.05 * head, 0.0 * head)
    roll = _field(-0.08 * Y * head, 0.08 * X * head)
    jaw = _field(0.0 * mouth, 0.06 * mouth)
    return image, np.stack([shift, roll, jaw]), mouth


def test_head_over_still_background_is_global_and_a_mouth_is_local():
    image, deltas, mouth = _head_scene()
    dec = decompose_flow(deltas, fit_weights(deltas, image))
    assert dec.shares[0].argmax() == 0 and dec.shares[0, 0] > 0.7  # a translation
    assert dec.shares[1].argmax() == 2 and dec.shares[1, 2] > 0.7  # a roll
    assert dec.local[2] > 0.6  # the mouth moves alone
    # unweighted, the still background makes the shifted head look mostly local
    assert decompose_flow(deltas[0]).shares[0, 0] < dec.shares[0, 0] - 0.2


def test_weighted_box_is_the_hot_rectangle():
    heat = np.zeros((R, R))
    heat[40:50, 8:24] = 1.0  # rows are y, columns x
    assert weighted_box(heat, (0.0, 1.0 - 1e-9)) == [8 / R, 40 / R, 24 / R, 50 / R]


def _entry(index, shares, local=0.0, region=(0.3, 0.3, 0.7, 0.7), strength=1.0):
    full = dict.fromkeys(COMPONENTS, 0.0) | shares
    label = label_direction(full, local, region, strength)
    return DirectionAnatomy(index, label, full, local, list(region), {}, 1.0, strength)


def test_labels_follow_the_documented_rules():
    assert _entry(1, {"translate_x": 0.9}, 0.1).label == "shift x"
    assert _entry(1, {"rotate": 0.5, "scale": 0.3}, 0.2).label == "roll + zoom"
    assert _entry(1, {"translate_y": 0.6}, 0.35).label == "shift y + local"
    lower = _entry(1, {"translate_y": 0.2}, 0.8, (0.4, 0.7, 0.6, 0.9))
    assert lower.label == "local: lower face"
    assert _entry(1, {"scale": 0.2}, 0.8, (0.0, 0.0, 0.3, 0.3)).label == "local: upper face, left"
    assert _entry(1, {"translate_x": 0.9}, strength=0.001).label == "still"


def test_presets_split_pose_from_expression(tmp_path):
    anatomy = Anatomy(
        [
            _entry(1, {"translate_x": 0.8}, 0.2),
            _entry(2, {"translate_y": 0.2}, 0.8),
            _entry(3, {"rotate": 0.6}, 0.4),
            _entry(4, {"scale": 0.9}, 0.1, strength=0.0),  # still: never pose
        ],
        64,
        1.0,
        1,
    )
    assert preset_mute(anatomy, "pose") == [2, 4]  # mute everything but the pose directions
    assert preset_mute(anatomy, "expression") == [1, 3]
    with pytest.raises(AnatomyError):
        preset_mute(anatomy, "gaze")
    path = write_anatomy(anatomy, tmp_path / "directions.json")
    loaded = load_anatomy(path)
    assert loaded.labels() == anatomy.labels()
    assert preset_mute(loaded, "pose") == [2, 4]
    (tmp_path / "bad.json").write_text(json.dumps({"directions": [{"index": 1}]}))
    with pytest.raises(AnatomyError, match="bad.json"):
        load_anatomy(tmp_path / "bad.json")


def _set(path: list, value):
    def change(data: dict) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda d: d["directions"].append(dict(d["directions"][0])), "listed more than once"),
        (_set(["directions", 1, "global", "rotate"], math.nan), "global rotate"),
        (_set(["directions", 1, "global", "scale"], 1.5), "global scale"),
        (_set(["directions", 1, "local"], math.inf), "local"),
        (_set(["directions", 1, "index"], 2.5), "index"),
        (_set(["directions", 1, "index"], 0), "index"),
        (_set(["directions", 1, "index"], True), "index"),
        (_set(["directions", 1, "label"], {"a": 1}), "label"),
        (_set(["directions", 1, "region"], [0, 0, 1]), "region"),
        (_set(["directions", 1, "region", 2], -0.5), "region"),
        (_set(["directions", 1, "motion", "scale"], "big"), "motion scale"),
        (_set(["directions", 1, "rms_px"], -1), "rms_px"),
        (_set(["directions", 1, "strength"], math.nan), "strength"),
        (_set(["size"], 0), "size"),
        (_set(["step"], math.nan), "step"),
        (_set(["n_images"], -1), "n_images"),
        (_set(["diagnostics"], [1]), "diagnostics"),
        (
            _set(
                ["diagnostics"],
                {
                    "x": [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                                                                                1
                                                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                },
            ),
            "deep",
        ),
        (lambda d: d["directions"][1].pop("global"), "global"),
    ],
)
def test_every_field_of_an_anatomy_file_is_checked(tmp_path, change, named):
    anatomy = Anatomy(
        [_entry(1, {"translate_x": 0.8}, 0.2), _entry(2, {"rotate": 0.6}, 0.4)], 64, 1.0, 1
    )
    path = write_anatomy(anatomy, tmp_path / "directions.json")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(AnatomyError, match="directions.json") as err:
        load_anatomy(path)
    assert named in str(err.value) and "\n" not in str(err.value)


@pytest.fixture(scope="module")
def embedded():
    return liaviz.load_model(EMBEDDED_MODEL)


def test_scrambled_directions_follow_their_directions(embedded):
    """The same directions in another order and with flipped signs, the magnitude head changed
    to match (so every code z stays the same), get the same anatomy, permuted: the measurement
    follows the directions, not their slots."""
    q = embedded.directions().detach()
    m = q.shape[1]
    perm = np.random.default_rng(0).permutation(m)
    signs = torch.tensor([(-1.0) ** i for i in range(m)])
    face = render_face(Identity.sample(np.random.default_rng(7)), {}, size=embedded.config.size)
    scrambled = liaviz.load_model(EMBEDDED_MODEL)
    head = scrambled.enc.fc[-1]
    with torch.no_grad():
        scrambled.dec.direction.weight.copy_(q[:, perm] * signs)
        # QR may flip signs again: map through the directions the model really uses
        moved = (q.t() @ scrambled.directions()).round()  # a signed permutation matrix
        assert torch.equal(moved.abs().sum(0), torch.ones(m))
        head.weight.copy_(moved.t() @ head.weight)
        head.bias.copy_(moved.t() @ head.bias)
    base = analyze_directions(embedded, [face])
    other = analyze_directions(scrambled, [face])
    for j in range(m):
        i = int(moved[:, j].abs().argmax())
        assert i == perm[j]
        a, b = base.directions[i], other.directions[j]
        assert b.local == pytest.approx(a.local, abs=1e-3)
        for k in COMPONENTS:
            assert b.shares[k] == pytest.approx(a.shares[k], abs=1e-3)


def test_labels_agree_with_the_renderers_ground_truth(embedded):
    """For each direction whose decoded change clearly matches one renderer factor among tx,
    ty, roll and scale (image-space cosine with the renderer's own change for that factor), the
    largest global share must be that factor's component; one in five may disagree.

    "Clearly": cosine at least 0.4 and 0.15 above the next factor. The bar was 0.5 while the
    anatomy read the finest flow; on the embedded model (64 px, blurry decodes) the best matches
    peak at 0.45-0.51, so at 0.5 only one or two directions qualified and the test skipped. It
    was lowered after measuring; at 0.5 with other identities (rng seed 1, four faces) the four
    directions that qualify agree too. Reading the finest flow (``level=-1``) fails this test:
    3 of the 5 directions are then labelled a shift where the renderer says scale."""
    size, m = embedded.config.size, embedded.config.motion_dim
    rng = np.random.default_rng(0)
    people = [Identity.sample(rng) for _ in range(8)]
    names = [f.name for f in FACTORS]
    q = embedded.directions().detach()
    cos = np.zeros((m, len(names)))
    for who in people:
        source = render_face(who, {}, size=size)
        change = []
        for f in FACTORS:
            h = 0.1 * (f.high - f.low)
            up = render_face(who, {f.name: f.neutral + h}, size=size).astype(np.float64)
            down = render_face(who, {f.name: f.neutral - h}, size=size).astype(np.float64)
            change.append((up - down).ravel())
        change = np.array(change)
        with torch.inference_mode():
            state = embedded.encode_source(to_tensor(source[None]))
            z0 = embedded.self_latent(state)
            images = embedded.decode(state, torch.cat([z0 + q.t(), z0 - q.t()])).numpy()
        moved = (images[:m] - images[m:]).transpose(0, 2, 3, 1).reshape(m, -1)
        norms = np.linalg.norm(moved, axis=1)[:, None] * np.linalg.norm(change, axis=1)[None]
        cos += np.abs(moved @ change.T) / norms / len(people)
    anatomy = analyze_directions(embedded, [render_face(w, {}, size=size) for w in people])
    component = {"tx": "translate_x", "ty": "translate_y", "roll": "rotate", "scale": "scale"}
    checked, wrong = [], []
    for i in range(m):
        first, second = np.sort(cos[i])[::-1][:2]
        factor = names[int(cos[i].argmax())]
        if factor in component and first >= 0.4 and first - second >= 0.15:
            shares = anatomy.directions[i].shares
            checked.append(i + 1)
            if max(shares, key=shares.get) != component[factor]:
                wrong.append((i + 1, factor, shares))
    if len(checked) < 3:  # a model whose pose directions are too entangled to check
        pytest.skip(
            f"the embedded model has < 3 directions that clearly match tx/ty/roll/scale: "
            f"{checked}, of which disagree: {[w[:2] for w in wrong]}"
        )
    assert len(wrong) <= len(checked) // 5, f"disagree: {wrong} (of {checked})"
