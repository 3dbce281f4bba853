"""``liaviz prepare``: raw videos to a training set of face clips, as the VoxCeleb crops were made.

- ``sources``: the raw videos (a folder or a list), their ids, split and shard, by stable hashes;
- ``clips``: a scanned video's face tracks as clips, one fixed crop each, and the drops;
- ``video``: the two passes over a video (find the faces, cut the clips);
- ``records``: what the dataset says about itself (options, one record per video, manifest);
- ``run``: ``prepare``, the whole folder, resumable and in parallel;
- ``merge``: shard folders joined into one dataset.
"""

from .clips import DROP_REASONS, ClipPlan, Rules, plan_clips
from .merge import merge
from .records import CLIP_MANIFEST, Totals
from .run import DETECT_EVERY, Options, Outcome, prepare_dataset
from .sources import PrepareError, Source, list_sources, parse_shard

__all__ = [
    "DETECT_EVERY",
    "DROP_REASONS",
    "CLIP_MANIFEST",
    "ClipPlan",
    "Options",
    "Outcome",
    "PrepareError",
    "Rules",
    "Source",
    "Totals",
    "list_sources",
    "merge",
    "parse_shard",
    "plan_clips",
    "prepare_dataset",
]
