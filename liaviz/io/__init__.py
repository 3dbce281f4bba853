"""Images and videos in and out, and their preparation to the model's input size.

- ``images``: read any common image format as uint8 RGB (H, W, 3), ``prepare`` it to the model's
  square input, ``to_tensor`` / ``to_uint8`` (the model's [-1, 1] convention), ``write_image``;
- ``video_read``: ``video_info``, ``iter_video`` / ``read_video`` and ``frame_times`` for video
  files, GIFs and folders of frames; ``iter_av_frames``, PyAV's own frames;
- ``video_write``: ``VideoWriter`` (mp4, GIF or PNG frames, atomic) and its checks;
- ``atomic``: the one writer every output goes through (whole files, JSON, folders), and
  ``check_not_an_input``, the guard against writing over an input.

Every problem with a file is a ``MediaError`` naming the file in one line.
"""

from .atomic import check_not_an_input
from .images import (
    IMAGE_SUFFIXES,
    Crop,
    MediaError,
    prepare,
    read_image,
    to_tensor,
    to_uint8,
    write_image,
)
from .video_read import (
    FOLDER_FPS,
    VIDEO_SUFFIXES,
    VideoInfo,
    frame_files,
    frame_times,
    is_variable_rate,
    iter_av_frames,
    iter_video,
    read_video,
    upright_turns,
    video_info,
)
from .video_write import VideoWriter, output_kind

__all__ = [
    "FOLDER_FPS",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "Crop",
    "MediaError",
    "VideoInfo",
    "VideoWriter",
    "check_not_an_input",
    "frame_files",
    "frame_times",
    "is_variable_rate",
    "iter_av_frames",
    "iter_video",
    "output_kind",
    "prepare",
    "read_image",
    "read_video",
    "to_tensor",
    "to_uint8",
    "upright_turns",
    "video_info",
    "write_image",
]
