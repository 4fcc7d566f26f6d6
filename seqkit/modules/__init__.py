"""Recurrent modules equal to torch.nn's, with a readable loop path, and output heads."""

from seqkit.modules.gru import GRU, gru_step
from seqkit.modules.heads import ClassifierHead, LanguageModelHead
from seqkit.modules.lstm import LSTM, lstm_step
from seqkit.modules.recurrent import BACKENDS, CellStep, Recurrent
from seqkit.modules.rnn import RNN, rnn_relu_step, rnn_tanh_step
from seqkit.modules.seq2seq import Seq2Seq

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
"""The cells by the short names the command line uses."""

__all__ = [
    "BACKENDS", "CELLS", "CellStep", "ClassifierHead", "GRU", "LSTM", "LanguageModelHead", "RNN", "Recurrent",
    "Seq2Seq", "gru_step", "lstm_step", "rnn_relu_step", "rnn_tanh_step",
]
