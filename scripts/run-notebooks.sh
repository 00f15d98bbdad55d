#!/usr/bin/env bash
# Executes the notebooks headless with the project's tslab kernel and writes the executed copies,
# outputs included, to outputs/notebooks/. Usage:
#   bash scripts/run-notebooks.sh                      # every notebooks/*.ipynb, in name order
#   bash scripts/run-notebooks.sh 00_setup_check ...   # only these (name, file name or path)
# Stops at the first notebook that fails and names it. Needs 'npm run build' first, because
# notebook cells load the compiled library from dist/.
# LORA_LAB_NOTEBOOK_TIMEOUT sets the limit per cell in seconds (default 1800).
# The kernels inherit the environment: test/notebooks.test.ts sets LORA_LAB_QUICK=1 in quick mode,
# and notebooks read it to shrink their work to a smoke run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# Debian's python3 carries Jupyter (jupyter-nbconvert, python3-nbclient). A pyenv or virtualenv
# python3 earlier on PATH usually does not, so the system one is called by its path.
python="${LORA_LAB_JUPYTER_PYTHON:-/usr/bin/python3}"
if ! "$python" -c 'import nbclient, nbformat' 2>/dev/null; then
  echo "run-notebooks: Jupyter nbclient not found for $python. Run 'npm run setup' first." >&2
  exit 1
fi
if [[ ! -f dist/src/backend.js ]]; then
  echo "run-notebooks: dist/src/backend.js not found. Run 'npm run build' first." >&2
  exit 1
fi
if [[ ! -x node_modules/tslab/bin/tslab ]]; then
  echo "run-notebooks: node_modules/tslab not found. Run 'npm run setup' first." >&2
  exit 1
fi

# jupyter/kernels/tslab/kernel.json starts node_modules/tslab through {resource_dir}, so the
# kernel spec works from any checkout without 'tslab install'.
export JUPYTER_PATH="$repo_root/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export JUPYTER_RUNTIME_DIR="$repo_root/.jupyter-runtime"
cell_timeout="${LORA_LAB_NOTEBOOK_TIMEOUT:-1800}"
output_dir="$repo_root/outputs/notebooks"
mkdir -p "$output_dir" "$JUPYTER_RUNTIME_DIR"

notebooks=()
if [[ $# -eq 0 ]]; then
  for file in notebooks/*.ipynb; do
    [[ -e "$file" ]] && notebooks+=("$file")
  done
else
  for name in "$@"; do
    name="$(basename "$name" .ipynb)"
    notebooks+=("notebooks/$name.ipynb")
  done
fi
if [[ ${#notebooks[@]} -eq 0 ]]; then
  echo "run-notebooks: no notebooks found in notebooks/." >&2
  exit 1
fi

# This calls nbclient directly instead of 'jupyter nbconvert --execute' for two reasons.
# tslab (1.0.22) reports a failed cell only on stderr and sends an error reply without a message,
# so the failing cell's outputs are printed from the notebook. And the partly executed notebook is kept.
read -r -d '' executor <<'PYTHON' || true
import os, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

source, destination, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
notebook = nbformat.read(source, as_version=4)
current = {"index": None}

def on_cell_start(cell, cell_index):
    current["index"] = cell_index

client = NotebookClient(
    notebook,
    timeout=timeout,
    resources={"metadata": {"path": os.path.dirname(os.path.abspath(source))}},
    on_cell_start=on_cell_start,
)
try:
    client.execute()
except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
    nbformat.write(notebook, destination)
    index = current["index"]
    cell = notebook.cells[index] if index is not None else None
    where = f"cell {index + 1} (id {cell.get('id', 'none')})" if cell is not None else "kernel start-up"
    print(f"run-notebooks: {source} failed in {where}: {type(error).__name__}.", file=sys.stderr)
    if cell is not None:
        print("----- cell source -----", file=sys.stderr)
        print(cell.source, file=sys.stderr)
        print("----- cell output -----", file=sys.stderr)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                print(output.get("text", ""), end="", file=sys.stderr)
            elif output.get("output_type") == "error":
                print("\n".join(output.get("traceback", [])), file=sys.stderr)
    if not isinstance(error, CellExecutionError) or cell is None:
        print(str(error)[-3000:], file=sys.stderr)
    print(f"run-notebooks: the partly executed notebook is in {destination}", file=sys.stderr)
    sys.exit(1)
nbformat.write(notebook, destination)
PYTHON

for notebook in "${notebooks[@]}"; do
  if [[ ! -f "$notebook" ]]; then
    echo "run-notebooks: $notebook not found." >&2
    exit 1
  fi
  echo "run-notebooks: executing $notebook"
  started=$SECONDS
  destination="$output_dir/$(basename "$notebook")"
  if ! "$python" -c "$executor" "$notebook" "$destination" "$cell_timeout"; then
    echo "run-notebooks: FAILED $notebook" >&2
    exit 1
  fi
  echo "run-notebooks: $notebook done in $((SECONDS - started)) s -> outputs/notebooks/$(basename "$notebook")"
done
