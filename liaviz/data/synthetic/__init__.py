"""Procedural talking faces with ground-truth motion.

Cartoon portraits framed like VoxCeleb crops (face filling the frame, shoulders at the bottom),
drawn with Pillow polygons on a supersampled canvas and box-filtered down, so edges are
anti-aliased. Each *identity* fixes the appearance (face shape, skin, hair, eyes, lips, clothes,
background, accessories); each *frame* is fixed by the motion factors in :data:`FACTORS`. Head
rotation is approximated in 2D: features are painted on an ellipsoid and projected
orthographically after yaw and pitch (so they shift and foreshorten), then the whole head is
rolled, scaled and translated in the image plane.

    rng = np.random.default_rng(0)
    who = Identity.sample(rng)
    img = render_face(who, {"yaw": 20, "mouth_open": 0.8}, size=64)   # (64, 64, 3) uint8
    traj = sample_trajectory(rng, 64)                                 # {factor: (64,) float}
    video = render_video(who, traj, size=64)                          # (64, 64, 64, 3) uint8
    write_dataset("faces", n_videos=400, n_frames=64, size=64, seed=0)

Everything is a pure function of its seeds: the same call gives the same bytes.

One idea per module: ``factors`` (the motion factors), ``identity`` (a person's appearance),
``trajectories`` (motion over time), ``geometry`` (the head pose and point helpers), ``head`` and
``features`` (the parts drawn), ``rendering`` (the renderer and one-shot functions), ``dataset``
(seeds per video, the dataset on disk).
"""

from .dataset import (
    SPLITS,
    SYNTH_FORMAT_VERSION,
    SYNTH_MANIFEST,
    SynthError,
    default_workers,
    format_factors_csv,
    identity_seed,
    read_factors,
    read_manifest,
    video_frames,
    video_name,
    video_spec,
    write_dataset,
)
from .factors import FACTOR_NAMES, FACTORS, Factor, neutral_factors
from .identity import FRAMING, PUPIL, RGB, SCLERA, TEETH, Identity
from .rendering import FaceRenderer, iter_frames, render_face, render_video
from .trajectories import sample_trajectory

__all__ = [
    "FACTORS",
    "FACTOR_NAMES",
    "SYNTH_FORMAT_VERSION",
    "FRAMING",
    "SYNTH_MANIFEST",
    "PUPIL",
    "RGB",
    "SCLERA",
    "SPLITS",
    "TEETH",
    "FaceRenderer",
    "Factor",
    "Identity",
    "SynthError",
    "default_workers",
    "format_factors_csv",
    "identity_seed",
    "iter_frames",
    "neutral_factors",
    "read_factors",
    "read_manifest",
    "render_face",
    "render_video",
    "sample_trajectory",
    "video_frames",
    "video_name",
    "video_spec",
    "write_dataset",
]
