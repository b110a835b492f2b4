"""The ONNX export of a sentence-transformers model as files: where an export of a precision is kept,
whether a model can be exported (transformer, mean pooling, normalisation), its int8 variant (ONNX
Runtime's dynamic quantization), and the temporary files an export killed part way leaves behind.
`embedding` runs the exports; this module only names, checks, writes and cleans up their files.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import re
import time
from pathlib import Path

log = logging.getLogger(__name__)

STALE_EXPORT_SECONDS = 3600  # an export takes well under a minute; an older temporary file is an orphan
_MEAN_POOLING_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                         "sentence_transformers.models.Normalize"]


def onnx_file(cache_dir: Path, model_id: str, precision: str = "fp32") -> Path:
    """Where the model's ONNX export of `precision` is kept in `cache_dir`."""
    suffix = "" if precision == "fp32" else f"-{precision}"
    return cache_dir / (re.sub(r"[^A-Za-z0-9._-]+", "--", model_id) + suffix + ".onnx")


def quantize_onnx(source: Path, target: Path) -> None:
    """Write the int8 variant of the fp32 export `source` to `target` atomically (ONNX Runtime's
    dynamic quantization: weights of the matrix products as signed int8, one scale per output channel: per tensor, some
    sentences fell to cosine 0.94 against fp32; per channel, the least was 0.99)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = partial_export(target, os.getpid())
    # the quantizer advises pre-processing (shape inference, graph fusion) on the root logger at every call;
    # it is not taken here (the fused graph of onnxruntime.transformers failed to quantize), so kept quiet
    advice = _DropMessage("pre-processing before quantization")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    finally:
        logging.getLogger().removeFilter(advice)
        tmp.unlink(missing_ok=True)


class _DropMessage(logging.Filter):
    """Drops log records whose message contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def onnx_compatible(location: str) -> bool:
    """Whether the model folder is a transformer + mean pooling + normalisation with a fast tokenizer."""
    folder = Path(location)
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text())]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    return modules == _MEAN_POOLING_MODULES and bool(mean_only) and (folder / "tokenizer.json").is_file()


def partial_export(target: Path, pid: int) -> Path:
    """The temporary file process `pid` writes an export to before renaming it to `target`."""
    return target.with_name(f".{target.name}.{pid}.tmp")


def remove_partial_exports(target: Path) -> list[Path]:
    """Delete the temporary files that exports to `target` left behind when their process was killed
    (its pid is gone, or the file is older than STALE_EXPORT_SECONDS); the files removed."""
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:-len(".tmp")]
        try:
            stale = not pid.isdigit() or not _running(int(pid)) or \
                time.time() - tmp.stat().st_mtime > STALE_EXPORT_SECONDS
            if stale:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    if removed:
        log.info("removed %d partial ONNX export(s) left by killed processes", len(removed))
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True
