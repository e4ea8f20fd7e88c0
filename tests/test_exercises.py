# What this module does: runs the graded exercises (notebooks/exercises/, an nbgrader course
# directory) through nbgrader as a teacher would, in a copy in the test's folder:
# generate_assignment makes the student version (solutions replaced by nbgrader's stub); three
# students hand it in (all answers right; some wrong; none given); autograde runs each on a fresh
# kernel that starts its own lab server; generate_feedback writes the HTML. The scores must be
# full, partial and zero, and the feedback must show the server's replies (the shipped config
# turns off stored widget state, without which the HTML shows empty widget placeholders).
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "notebooks" / "exercises"
ASSIGNMENT = "smtp-and-pop3"
MADE_BY_NBGRADER = ("release", "submitted", "autograded", "feedback", "gradebook.db")
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

RIGHT = {
    "ex1-answer": "MAIL FROM:<bob@lab.test>\nRCPT TO:<alice@lab.test>\nDATA\n"
    "Subject: Hello from bob\n\nHi Alice.\n.",
    "ex2-answer": "RCPT TO:<bob@lab.test>\nDATA\nSubject: Greylisting survived\n\nAgain.\n.",
    "ex3-answer": "DELE 1\nQUIT",
}
WRONG = {
    "ex1-answer": "MAIL FROM:<bob@lab.test>\nRCPT TO:<alice@lab.test>\nDATA\n"
    "Subject: Hello\n\nWrong subject.\n.",
    "ex2-answer": RIGHT["ex2-answer"],
    "ex3-answer": "DELE 1",  # no QUIT: the deletion never happens (RFC 1939 section 6)
}


def nbgrader(course: Path, *args: str) -> None:
    """Run one nbgrader command in ``course``, as the teacher would from a shell."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic from the environment
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def submit(course: Path, student: str, answers: dict[str, str]) -> None:
    """Hand in the released notebook with ``answers`` in place of the stubs of its solution
    cells (by grade_id; none given: handed in blank)."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            assert STUB in cell.source
            cell.source = cell.source.replace(STUB, answers[grade_id])
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")


def graded(course: Path) -> Path:
    """``course`` after generate_assignment, three submissions, autograde and feedback."""
    skip = shutil.ignore_patterns(*MADE_BY_NBGRADER)
    shutil.copytree(COURSE, course, dirs_exist_ok=True, ignore=skip)
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    for student, answers in (("right", RIGHT), ("wrong", WRONG), ("blank", {})):
        submit(course, student, answers)
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    return course


def feedback(course: Path, student: str) -> str:
    return (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text("utf-8")


def check_the_student_version(course: Path) -> None:
    """Solutions gone, each replaced by nbgrader's stub; the set-up and checks kept."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert not any("BEGIN SOLUTION" in c or "Hi Alice" in c for c in code)
    assert sum(STUB in c for c in code) == len(RIGHT)
    assert any("lab.expect_no_mail" in c for c in code)


def check_the_scores(course: Path) -> None:
    """7 of 7 for the right answers, 3 for the partly wrong ones, 0 for a blank hand-in."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        found = [gradebook.find_submission(ASSIGNMENT, s) for s in ("right", "wrong", "blank")]
        scores = [(s.score, s.max_score) for s in found]
    assert scores == [(7, 7), (3, 7), (0, 7)]


def check_the_feedback(course: Path) -> None:
    """Every page shows the server's replies, and says why a check failed."""
    right, wrong, blank = (feedback(course, s) for s in ("right", "wrong", "blank"))
    assert "application/vnd.jupyter.widget-state+json" not in right
    for page in (right, wrong, blank):
        assert "451 4.7.1 Greylisted, please try again later" in page  # a set-up cell's reply
    assert "2.6.0" in right  # the message accepted after DATA
    assert "Hello from bob" in wrong and "AssertionError" in wrong
    assert "this exercise is not answered yet" in blank


@pytest.mark.timeout(900)
def test_nbgrader_grades_right_wrong_and_blank_submissions(tmp_path: Path) -> None:
    course = graded(tmp_path / "course")
    check_the_student_version(course)
    check_the_scores(course)
    check_the_feedback(course)


def test_the_source_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    """The teacher's Run All: the solutions, markers and all, pass every check."""
    nb = nbformat.read(COURSE / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False)
    client.execute(cwd=str(tmp_path))  # raises CellExecutionError at the first failing cell
    shown = [o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])]
    assert any("250 2.6.0" in html for html in shown)
