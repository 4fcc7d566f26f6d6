"""Transfer into a sentiment classifier: from a sentiment checkpoint, or from language models (ULMFiT, ELMo).

`seqkit fit --init_from CKPT` (a sentiment or a next-word checkpoint) and
`--init_from_backward CKPT` (a backward language model, for the reverse direction of a
bidirectional encoder). The checkpoints are checked when named and loaded once the
classifier's layers exist (`SentimentTask.configure_model`).
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import Tensor

from seqkit.console import say
from seqkit.errors import CheckpointError, SeqkitError
from seqkit.protocols import TakesVocabulary
from seqkit.text import Vocab
from seqkit.training import checkpoints


def init_from_checkpoint(task, path: str | Path, datamodule: pl.LightningDataModule | None = None) -> None:
    """Start from a trained model: a sentiment checkpoint, or a next-word one (transfer).

    The vocabulary (and tokenizer) come from the checkpoint. From a sentiment
    checkpoint everything is kept when the label set is the same; when it differs the
    encoder and embedding are kept and the head starts afresh. From a next-word
    checkpoint (a language model, the ULMFiT idea) the embedding and every encoder
    weight that fits are loaded, and the head starts afresh.
    """
    checkpoint = checkpoints.load(path)
    kind = checkpoint["seqkit"].get("task")
    if kind not in ("sentiment", "next_word"):
        raise CheckpointError(f"{path} is a {kind!r} checkpoint; --init_from takes a sentiment or a next_word one")
    backward, reads_backward = bool(checkpoint["seqkit"].get("reverse")), bool(task.hparams.get("reverse"))
    if kind == "next_word" and backward and not reads_backward:
        raise CheckpointError(f"{path} is a backward language model (it reads text last word first); start a classifier "
                              f"that reads the same way from it (--model.init_args.reverse true), or give it as "
                              f"--init_from_backward, beside --init_from a forward one, with a bidirectional encoder")
    if kind == "next_word" and reads_backward and not backward:
        raise CheckpointError(f"{path} is a forward language model, and this classifier reads texts last word first "
                              f"(--model.init_args.reverse true); start it from a backward one (trained with "
                              f"--data.reverse true), or drop --model.init_args.reverse")
    if kind == "sentiment" and bool(checkpoint.get("hyper_parameters", {}).get("reverse")) != reads_backward:
        way = "last word first" if not reads_backward else "first word first"
        raise CheckpointError(f"{path} is a classifier that reads texts {way}; set --model.init_args.reverse "
                              f"{str(not reads_backward).lower()} to go on training it")
    task._init_from = checkpoint
    section = checkpoint["seqkit"]
    if isinstance(datamodule, TakesVocabulary):
        datamodule.use_vocab(Vocab.from_dict(section["vocab"]), section.get("tokenizer"))


def init_backward_from_checkpoint(task, path: str | Path) -> None:
    """Start the reverse direction of a bidirectional encoder from a backward language model.

    Goes with `init_from_checkpoint` of a forward language model (ULMFiT and ELMo pair
    the two): the forward model fills the embedding and the forward direction, the
    backward one (trained with `NextWordData(reverse=True)`, which reads text last word
    first, as the reverse direction does) fills `*_reverse`. Both must share one
    vocabulary; the classifier has one embedding, the forward model's, so the backward
    model should have been trained from the forward one with its embedding frozen
    (`--init_from FORWARD --data.reverse true --model.freeze_embeddings true`);
    otherwise a warning says that its encoder reads other word vectors than it learned on.
    """
    forward = (task._init_from or {}).get("seqkit", {})
    if forward.get("task") != "next_word":
        raise SeqkitError("--init_from_backward goes with --init_from a forward language model (next_word checkpoint), "
                          "which gives the classifier its vocabulary and embedding")
    if not task.encoder.bidirectional:
        raise SeqkitError("--init_from_backward fills the reverse direction of a bidirectional encoder; set "
                          "--model.init_args.encoder.init_args.bidirectional true")
    checkpoint = checkpoints.load(path, task="next_word")
    if not checkpoint["seqkit"].get("reverse"):
        raise CheckpointError(f"{path} is a forward language model; --init_from_backward needs a backward one "
                              f"(trained with --data.reverse true)")
    if Vocab.from_dict(checkpoint["seqkit"]["vocab"]).get_itos() != Vocab.from_dict(forward["vocab"]).get_itos():
        raise CheckpointError(f"{path} has another vocabulary than the --init_from language model; train the backward "
                              f"model with --init_from FORWARD.ckpt --data.reverse true, which keeps the forward one's")
    task._init_backward = checkpoint


def load_init_from(task) -> None:
    """Load the `--init_from` checkpoint kept by `init_from_checkpoint`, once the layers are built."""
    checkpoint, task._init_from = task._init_from, None
    section = checkpoint["seqkit"]
    if Vocab.from_dict(section["vocab"]).get_itos() != task.vocab.get_itos():  # no DataModule passed it on
        task._adopt({k: v for k, v in section.items() if k != "labels"})
        task._build_layers()
    same_labels = section.get("task") == "sentiment" and list(section.get("labels", [])) == task.labels
    body = ("model.embedding.", "model.encoder.")
    loaded = checkpoints.load_weights(task, checkpoint["state_dict"], "--init_from checkpoint", only=None if same_labels else body)
    if same_labels:
        say("seqkit: --init_from: all weights loaded (same labels)")
        return
    backward = _load_backward(task, checkpoint["state_dict"]["model.embedding.weight"]) if task._init_backward is not None else []
    fresh = [name for name, _ in task.named_parameters() if name.startswith(body) and name not in loaded + backward]
    reason = "a language model" if section.get("task") == "next_word" else f"labels {section.get('labels')} (now {task.labels})"
    also = f" (the reverse direction's {len(backward)} from --init_from_backward)" if backward else ""
    say(f"seqkit: --init_from {reason}: loaded {len(loaded) + len(backward)} embedding/encoder tensors{also}; "
         f"the classification head starts afresh{'; also fresh: ' + ', '.join(fresh) if fresh else ''}")


def _load_backward(task, forward_embedding: Tensor) -> list[str]:
    """The backward language model's encoder into the reverse direction: `weight_ih_l0` -> `weight_ih_l0_reverse`."""
    checkpoint, task._init_backward = task._init_backward, None
    state = checkpoint["state_dict"]
    reverse = {f"{name}_reverse": value for name, value in state.items() if name.startswith("model.encoder.")}
    loaded = checkpoints.load_weights(task, reverse, "--init_from_backward checkpoint", only=("model.encoder.",))
    if not torch.equal(state["model.embedding.weight"].float().cpu(), forward_embedding.float().cpu()):
        say("seqkit: warning: the backward language model learned other word vectors than the forward one's, which "
            "the classifier uses; train it with --init_from FORWARD.ckpt --model.freeze_embeddings true so both read the same")
    return loaded


# ULMFiT's gentler handling of the pretrained body (the embedding and the encoder) in the classifier.


def _body(task) -> list[torch.nn.Parameter]:
    """The embedding's and the encoder's parameters that train at all (the pretrained part in transfer)."""
    frozen = task.hparams.freeze_embeddings or task.embedding is None
    embedding = [] if frozen else list(task.embedding.parameters())
    return embedding + list(task.encoder.parameters())


def param_groups(task) -> list[dict]:
    """The head at the optimizer's rate, the body at `body_lr_scale` times it (discriminative rates)."""
    body = _body(task)
    ids = {id(p) for p in body}
    head = [p for p in task.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": head}, {"params": body, "lr_scale": task.hparams.body_lr_scale}]


def freeze_body(task, announce: bool = True) -> None:
    """Keep the body fixed in the first `freeze_body_epochs` epochs (gradual unfreezing, in two stages).

    A frozen parameter gets no gradient, and the optimizer skips parameters without one.
    """
    epochs, epoch = task.hparams.freeze_body_epochs, task.current_epoch
    for parameter in _body(task):
        parameter.requires_grad_(epoch >= epochs)
    if announce and epochs and epoch == epochs:
        say(f"seqkit: epoch {epoch}: the embedding and the encoder now train too")
