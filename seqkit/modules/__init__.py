"""Recurrent modules equal to torch.nn's, with a readable loop path, and output heads."""

from seqkit.modules.gru import GRU, gru_step
from seqkit.modules.heads import ClassifierHead, LanguageModelHead
from seqkit.modules.lstm import LSTM, lstm_step
from seqkit.modules.recurrent import BACKENDS, CellStep, Recurrent, recurrent_modules
from seqkit.modules.rnn import RNN, rnn_relu_step, rnn_tanh_step
from seqkit.modules.registry import cell_class, cell_name, cells, register
from seqkit.modules.seq2seq import Seq2Seq

__all__ = [
    "BACKENDS", "CellStep", "ClassifierHead", "GRU", "LSTM", "LanguageModelHead", "RNN", "Recurrent",
    "Seq2Seq", "cell_class", "cell_name", "cells", "gru_step", "lstm_step", "recurrent_modules", "register", "rnn_relu_step", "rnn_tanh_step",
]
