"""What tools/search_table.py and tools/bench_table.py share: finding the JSON files and naming a model."""
import glob, os


def find(paths, pattern, tool):
    """Each path that is a file, and in each folder the files matching pattern (name order); none found is an error."""
    files = []
    for p in paths:
        files += sorted(glob.glob(os.path.join(p, pattern))) if os.path.isdir(p) else [p]
    if not files:
        raise SystemExit(f"{tool}: no {pattern} in {' '.join(paths)}")
    return files


def model_name(path):
    """models/NAME/model.onnx -> NAME; any other file -> its name without .onnx."""
    folder, file = os.path.split(path)
    return os.path.basename(folder) if file == "model.onnx" else file.removesuffix(".onnx")
