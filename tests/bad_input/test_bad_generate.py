"""`seqkit generate` given options that cannot work, or a bad checkpoint: one line each, never a traceback."""

from __future__ import annotations

import pytest

from seqkit.cli import main as seqkit
from seqkit.errors import CheckpointError


@pytest.mark.parametrize("options, said", [
    (["--k", "0"], "k must be a whole number from 1 to the vocabulary's 300 words, got 0"),
    (["--k", "-2"], "got -2"),
    (["--k", "301"], "got 301"),
    (["--top_k", "0"], "top_k must be a whole number of at least 1"),
    (["--top_k", "-5"], "top_k must be a whole number of at least 1"),
    (["--temperature", "nan"], "temperature must be a positive number, got nan"),
    (["--temperature", "0"], "temperature must be a positive number, got 0.0"),
    (["--max_new_tokens", "-1"], "max_new_tokens must be a whole number from 0 to 100,000, got -1"),
    (["--max_new_tokens", "1000000000"], "max_new_tokens must be a whole number from 0 to 100,000, got 1000000000"),
    (["--prompt", "and god said " * 6667], "the prompt is 20,001 words; seqkit reads at most 20,000 words of a prompt"),
    (["--prompt", "x" * 1_000_001], "the prompt is 1,000,001 characters; seqkit reads at most 20,000 words"),
])
def test_generation_options_that_cannot_work_get_one_line(options, said, language_model, capsys):
    assert seqkit(["generate", "--ckpt_path", str(language_model), "--prompt", "and god said", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("seqkit generate: error: ") and said in err[-1]


def test_a_prompt_of_unknown_words_gets_a_note(language_model):
    with pytest.warns(UserWarning, match="no word of 'zzyzx qqq' is in the model's vocabulary"):
        assert seqkit(["generate", "--ckpt_path", str(language_model), "--prompt", "zzyzx qqq",
                       "--max_new_tokens", "0"]) == 0


def test_device_auto_is_the_default_and_a_missing_gpu_is_one_line(language_model, capsys):
    import torch

    assert seqkit(["generate", "--ckpt_path", str(language_model), "--prompt", "and", "--max_new_tokens", "0"]) == 0
    capsys.readouterr()
    if not torch.cuda.is_available():
        assert seqkit(["generate", "--ckpt_path", str(language_model), "--prompt", "and", "--device", "cuda"]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            "seqkit generate: error: --device cuda: this machine has no CUDA device that torch can use; "
            "use --device cpu (or auto)")


@pytest.mark.parametrize("files, argv, message", [
    ({"runs/version_0/notes.txt": "no model"}, ["generate", "--ckpt_path", "{folder}/runs", "--prompt", "the cat"],
     r"no checkpoint under {folder}/runs; train with `seqkit fit` first"),
    ({"x.txt": ""}, ["generate", "--ckpt_path", "{forecast}", "--prompt", "the"],
     r"is a checkpoint of the 'forecast' task; this needs a 'next_word' checkpoint"),
    ({"x.txt": ""}, ["generate", "--ckpt_path", "{folder}/absent.ckpt", "--prompt", "the"],
     r"checkpoint {folder}/absent.ckpt does not exist"),
], ids=["a run folder without a checkpoint", "a forecaster", "a file that does not exist"])
def test_a_checkpoint_that_is_no_language_model_gets_one_line(files, argv, message, misuse):
    misuse(files, argv, CheckpointError, message)
