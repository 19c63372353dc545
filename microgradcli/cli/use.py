"""`mg predict` and `mg eval`: using a trained model."""

from __future__ import annotations

from typing import Any

import typer

from microgradcli.cli._app import app
from microgradcli.cli._common import emit, emit_json
from microgradcli.errors import plural


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@app.command()
def predict(
    model: str = typer.Argument(..., help="A model.json written by mg train."),
    input: str = typer.Argument(
        ...,
        help="Rows to predict: a CSV file (header optional), a JSON Lines file, or - for stdin.",
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per row on stdout."),
) -> None:
    """Predict one result per input row, streamed as the rows arrive.

    INPUT holds one row of input values per line: CSV (a header naming the
    model's features is optional; with one, extra columns are ignored),
    JSON Lines of arrays (`[0.5, -0.2]`) or of objects keyed by feature
    name. The normalisation saved with the model is applied. Binary
    classifiers give the label as trained (+-1 or 0/1), multi-class ones
    the class name, regression the value. A row of the wrong width or a
    non-number is an error naming the row.

    --json: {"input": [...], "output": ..., "label": ...} per row
    ("probabilities" too for multi-class).

    Example: echo '[0.5, -0.2]' | mg predict runs/moons/model.json - --json
    """
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.errors import InputError
    from microgradcli.predict import predict_rows, read_rows

    if model == "-" and input == "-":
        raise InputError(
            "the model and the input cannot both come from stdin ('-'); give one a file"
        )
    ckpt = load_checkpoint(model)
    names = ckpt.input_names
    rows = read_rows(input, ckpt.nin, names)
    widths = [max(10, len(n)) for n in names]
    task = ckpt.task
    # A file is answered a batch of rows at a time; stdin row by row, as each arrives.
    batch = 1 if input == "-" else 256
    for i, result in enumerate(predict_rows(ckpt, rows, batch)):
        if json_out:
            emit_json(result)
            continue
        if i == 0:
            cols = [n.rjust(w) for n, w in zip(names, widths, strict=True)]
            emit("  ".join(cols + [title.rjust(w) for title, w in task.columns]))
        cells = [_num(v).rjust(w) for v, w in zip(result["input"], widths, strict=True)]
        cells += [c.rjust(w) for c, (_, w) in zip(task.cells(result), task.columns, strict=True)]
        emit("  ".join(cells))


def _confusion_lines(confusion: dict[str, Any]) -> list[str]:
    from microgradcli.checkpoint import format_label

    labels = [format_label(c) for c in confusion["labels"]]
    matrix = confusion["matrix"]
    w = max(6, *(len(lab) for lab in labels), *(len(str(v)) for row in matrix for v in row))
    lines = ["confusion matrix (rows: true class, columns: predicted)"]
    lines.append(" " * (w + 2) + "  ".join(lab.rjust(w) for lab in labels))
    for lab, row in zip(labels, matrix, strict=True):
        lines.append(lab.rjust(w + 2) + "  ".join(str(v).rjust(w) for v in row))
    return lines


@app.command("eval")
def eval_command(
    model: str = typer.Argument(..., help="A model.json written by mg train."),
    data: str | None = typer.Option(
        None,
        "--data",
        "-d",
        help="An experiment config (.yaml: its data section) or a CSV file (target: the "
        "model config's data.target, else the last column). Default: the model's own "
        "training data, with its split.",
    ),
    split: str = typer.Option(
        "all",
        "--split",
        help="With a config: all rows, or only the train or val rows of its data.val_split.",
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Metrics of a trained model on a dataset: loss, accuracy, confusion matrix.

    The loss is the training objective's data loss (train.loss, without the L2
    term), averaged over the rows. With a config (or - for a config on
    stdin), the rows are the ones it generates or reads, exactly as
    training saw them; --split train|val picks one side of its
    data.val_split. Without --data, the model's own training data (as its
    config describes it). Labels in a CSV must be the model's classes.

    --json keys: model, data, split, rows, task, loss_name, loss, accuracy, correct,
    confusion ({"labels", "matrix"}, rows = true class); regression has
    rmse and mae instead.

    Example: mg eval runs/moons/model.json --data configs/moons.yaml
    """
    from microgradcli.checkpoint import load_checkpoint
    from microgradcli.errors import InputError
    from microgradcli.predict import evaluate, read_dataset, training_dataset

    if split not in ("all", "train", "val"):
        raise InputError(f"--split {split!r}: use all, train or val")
    if model == "-" and data == "-":
        raise InputError("the model and --data cannot both come from stdin ('-'); give one a file")
    ckpt = load_checkpoint(model)
    dataset = read_dataset(data, ckpt, split) if data else training_dataset(ckpt, split)
    if dataset is None:
        raise InputError(
            f"{model}: the model holds no config to find its training data; give --data"
        )
    metrics = evaluate(ckpt, dataset)
    result = {"model": model, "data": metrics["data"], "split": split, **metrics}
    if json_out:
        emit_json(result)
        return
    for line in _eval_lines(result, model, split):
        emit(line)


def _eval_lines(result: dict[str, Any], model: str, split: str) -> list[str]:
    """mg eval's human report of an evaluate() result."""
    shown = result["data"] if split == "all" else f"{result['data']} [{split}]"
    lines = [
        f"model     {model} ({result['task']})",
        f"data      {shown} ({plural(result['rows'], 'row')})",
        f"loss      {result['loss']:.6g} ({result['loss_name']})",
    ]
    if result["accuracy"] is not None:
        lines.append(
            f"accuracy  {100 * result['accuracy']:.2f}% ({result['correct']} of {result['rows']})"
        )
    else:
        lines.append(f"rmse      {result['rmse']:.6g}")
        lines.append(f"mae       {result['mae']:.6g}")
    if result.get("confusion"):
        lines += ["", *_confusion_lines(result["confusion"])]
    return lines
