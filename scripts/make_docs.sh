#!/usr/bin/env bash
# Regenerates the pictures in docs/ that the README shows, with the real mg commands.
#   bash scripts/make_docs.sh
# Training is seeded, so the same code gives the same pictures (SVG output has no dates).
set -euo pipefail
cd "$(dirname "$0")/.."

mg() { python -m microgradcli "$@"; }   # works from a checkout, installed or not
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
runs="$scratch/runs"

# A computation graph: one neuron of the lecture, after backward (mg draw, when present).
# The built-in renderer: the same bytes whether or not Graphviz is installed here.
if mg draw --help > /dev/null 2>&1; then
    neuron=(draw "tanh(x1*w1 + x2*w2 + b)" --at x1=2,x2=0,w1=-3,w2=1,b=6.8813735870195432)
    mg "${neuron[@]}" --renderer builtin -o docs/neuron.svg
    mg "${neuron[@]}" -o docs/neuron.html   # the backward pass, step by step, in a browser
    # the lecture's 3 -> 4 -> 4 -> 1 network after training, by neuron, for its first sample
    # (drawn from inside the scratch folder: the title names the model by a stable path)
    mg train configs/binary.yaml --out "$runs/binary" --force --quiet > /dev/null
    (cd "$scratch" && PYTHONPATH="$OLDPWD${PYTHONPATH:+:$PYTHONPATH}" mg draw \
        --model runs/binary/model.json --input 2,3,-1 --renderer builtin \
        -o "$OLDPWD/docs/binary-neurons.svg")
else
    echo "make_docs: mg draw is not available; docs/neuron.svg left as it is" >&2
fi

# micrograd's moons demo: train (keeping the weights every 5 epochs), then its loss curve,
# its decision boundary, and the boundary forming as a GIF, one frame per snapshot.
mg train configs/moons.yaml --out "$runs/moons" --force --quiet --set output.snapshot_every=5 > /dev/null
mg plot loss "$runs/moons" -o docs/moons-loss.svg
mg plot boundary "$runs/moons" -o docs/moons-boundary.svg
mg plot boundary "$runs/moons" --animate docs/moons-boundary.gif

# A function and its derivative, the derivative from the engine's backward pass.
mg plot fn "tanh(x)" --range -5:5 -o docs/tanh.svg

ls -l docs/*.svg docs/*.gif docs/*.html >&2
