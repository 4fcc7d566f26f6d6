"""`seqkit trace` and `seqkit gradients` given options that cannot work: one line each, no picture overwritten."""

from __future__ import annotations

import pytest

from seqkit.cli import main as seqkit


@pytest.mark.parametrize("argv, said", [
    (["trace", "--hidden_size", "0"], "--hidden_size must be at least 1, got 0"),
    (["trace", "--num_layers", "0"], "--num_layers must be at least 1"),
    (["trace", "--precision", "-1"], "--precision is the number of decimals shown, from 0 to 12; got -1"),
    (["trace", "--precision", "13"], "got 13"),
    (["trace", "--x", "1,a,2"], "--x"),
    (["trace", "--text", "not good"], "--ckpt_path and --text go together"),
    (["gradients", "--radius", "nan"], "--radius must be a positive number, got nan"),
    (["gradients", "--cells", "rnn,transformer"], "--cells"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_an_option_that_cannot_work_gets_one_line(argv, said, capsys):
    assert seqkit(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"seqkit {argv[0]}: error: ") and said in err, err


@pytest.mark.parametrize("argv", [
    ["gradients", "--length", "5", "--plot", "{name}"],
    ["trace", "--cells", "rnn", "--x", "1,2", "--plot", "{name}"],
], ids=["gradients --plot NAME", "trace --plot NAME"])
def test_a_name_without_extension_is_checked_as_name_png(argv, tmp_path, capsys):
    """NAME means NAME.png, and an existing NAME.png is kept unless --force is given."""
    mine = tmp_path / "picture.png"
    mine.write_bytes(b"my own picture")
    argv = [arg.format(name=tmp_path / "picture") for arg in argv]
    assert seqkit(argv) == 2
    assert f"{mine} exists; pass --force to overwrite it" in capsys.readouterr().err
    assert mine.read_bytes() == b"my own picture"
    assert seqkit([*argv, "--force"]) == 0 and mine.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("suffix", [".xyz", ".csv"])
def test_a_picture_of_an_unknown_format_is_refused_before_any_work(suffix, tmp_path, capsys):
    assert seqkit(["gradients", "--length", "5", "--plot", str(tmp_path / f"g{suffix}")]) == 2
    assert f"seqkit writes .png or .pdf or .svg here, not {suffix}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
