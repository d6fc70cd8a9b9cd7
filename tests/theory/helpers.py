"""Helpers for the theory tests: load the shipped banks, build users, answer an exam correctly or not."""

from __future__ import annotations

from accounts.models import User
from extensions import db
from theory.loader import load_all_banks
from theory.models import TheoryExam


def load_banks():
    return load_all_banks()


def user(username) -> User:
    return db.session.scalar(db.select(User).where(User.username == username))


def correct_answer(exam: TheoryExam, qid: str):
    return exam.key[qid]["answer"]


def wrong_answer(exam: TheoryExam, qid: str):
    k = exam.key[qid]
    if k["kind"] == "true_false":
        return not k["answer"]
    if k["kind"] == "single":
        return next(letter for letter in k["options"] if letter != k["answer"])
    return k["answer"][:1]  # a strict subset of the correct letters: wrong under all-or-nothing
