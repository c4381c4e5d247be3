"""The quiz as plain text and static HTML, and the markdown-ish prompt renderer.

This is what GitHub, nbviewer and plain IPython show instead of the widget, and what nbval
compares, so it must be the same on every run and in every process: built only from the bank
(options in their deterministic display order), never from object ids or widget model ids.
It never contains answers or explanations: a reader of the rendered notebook is told to open
it in JupyterLab, where the widget checks answers.

Options are shuffled (no "the answer is always b)") in an order fixed across runs, processes
and Python versions: sorted by the SHA-256 of (quiz, question id, option number), since
`hash()` is salted per process and `random` promises no stable algorithm. Grading never sees
display positions: the widgets map the chosen position back to the option's number.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import string
import textwrap

from workshop_lab.quizzes.grading import describe_target
from workshop_lab.quizzes.models import Bank, MultipleChoice, Predict, ShortAnswer, SingleChoice

AnyQuestion = SingleChoice | MultipleChoice | ShortAnswer | Predict

NOTE = "Answer in JupyterLab to check your answers and see the explanations."
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def option_order(quiz_id: str, question_id: str, count: int) -> list[int]:
    """Option numbers (1-based, as in the bank) in display order for this quiz and question."""

    def key(number: int) -> bytes:
        return hashlib.sha256(f"{quiz_id}\x1f{question_id}\x1f{number}".encode()).digest()

    return sorted(range(1, count + 1), key=key)


def displayed_options(
    bank: Bank, question: SingleChoice | MultipleChoice | Predict
) -> list[tuple[int, str]]:
    """(option number in the bank, option text) pairs in the order the learner sees them."""
    options = question.options or ()
    numbers = (
        option_order(bank.notebook_id, question.id, len(options))
        if bank.shuffles(question)
        else list(range(1, len(options) + 1))
    )
    return [(number, options[number - 1]) for number in numbers]


def letter(position: int) -> str:
    """ "a" for the first displayed option, "b" for the second..."""
    letters = string.ascii_lowercase
    return letters[position] if position < len(letters) else str(position + 1)


def instruction(question: AnyQuestion) -> str:
    """How to answer, in words (also the widget's hint under the prompt)."""
    if isinstance(question, SingleChoice):
        return "Choose one."
    if isinstance(question, MultipleChoice):
        return "Choose all that apply."
    if isinstance(question, ShortAnswer):
        return "Type a short answer."
    what = describe_target(question)
    how = "Choose" if question.options else "Type"
    return f"Predict {what}. {how} your prediction, then check it against the real app."


def request_text(question: Predict) -> str:
    """The request as an engineer would write it: request line, headers, body."""
    request = question.request
    lines = [f"{request.method} {request.path}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    if request.body is not None:
        if not any(name.lower() == "content-type" for name in request.headers):
            lines.append("Content-Type: application/json")  # what httpx sends with json=
        lines += ["", json.dumps(request.body, ensure_ascii=False, sort_keys=True)]
    return "\n".join(lines)


def request_context(question: Predict) -> str:
    """Which app receives the request, with which settings, how many times."""
    parts = [f"Sent to the app from {question.app}"]
    if question.settings:
        shown = ", ".join(
            f"{key}={json.dumps(value, sort_keys=True)}" for key, value in question.settings.items()
        )
        parts.append(f"with settings {shown}")
    text = " ".join(parts)
    if question.repeat > 1:
        text += f", {question.repeat} times in a row; predict the last response"
    return text + "."


def render_text(bank: Bank) -> str:
    """Plain-text form of the whole quiz (no answers)."""
    count = len(bank)
    lines = [
        f"Quiz: {bank.title}",
        f"{count} question{'s' if count != 1 else ''}. {NOTE}",
    ]
    for number, question in enumerate(bank.questions, start=1):
        lines.append("")
        prompt = textwrap.dedent(question.prompt).strip().splitlines()
        lines.append(f"{number}. {prompt[0]}")
        lines += [f"   {line}".rstrip() for line in prompt[1:]]
        if isinstance(question, Predict):
            lines += ["", "   Request:"]
            lines += [f"       {line}".rstrip() for line in request_text(question).splitlines()]
            lines.append(f"   {request_context(question)}")
        if isinstance(question, SingleChoice | MultipleChoice | Predict) and question.options:
            for position, (_, option) in enumerate(displayed_options(bank, question)):
                lines.append(f"   {letter(position)}) {option}")
        lines.append(f"   [{instruction(question)}]")
    return "\n".join(lines) + "\n"


def render_html(bank: Bank) -> str:
    """Static HTML form of the whole quiz (no answers), for GitHub and nbviewer."""
    count = len(bank)
    items = []
    for question in bank.questions:
        parts = [prompt_html(question.prompt)]
        if isinstance(question, Predict):
            parts.append(f"<p>Request:</p><pre>{html.escape(request_text(question))}</pre>")
            parts.append(f"<p>{html.escape(request_context(question))}</p>")
        if isinstance(question, SingleChoice | MultipleChoice | Predict) and question.options:
            options = "".join(
                f"<li>{inline_html(option)}</li>" for _, option in displayed_options(bank, question)
            )
            parts.append(f'<ol type="a">{options}</ol>')
        parts.append(f"<p><em>{html.escape(instruction(question))}</em></p>")
        items.append(f"<li>{''.join(parts)}</li>")
    return (
        '<div class="workshop-quiz">'
        f"<h3>Quiz: {html.escape(bank.title)}</h3>"
        f"<p>{count} question{'s' if count != 1 else ''}. {html.escape(NOTE)}</p>"
        f"<ol>{''.join(items)}</ol>"
        "</div>"
    )


def inline_plain(text: str) -> str:
    """`code` and **bold** without their markers, for widgets that show plain text only."""
    return _BOLD.sub(r"\1", _CODE.sub(r"\1", text))


def inline_html(text: str) -> str:
    """Escape, then `code` and **bold**: the only inline markup banks use."""
    escaped = html.escape(text, quote=False)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def prompt_html(text: str) -> str:
    """Markdown-ish prompt to HTML: paragraphs, ``` fenced code blocks, `code`, **bold**.

    A full Markdown library would be one more dependency for four constructs; these are
    enough for quiz prompts, and everything is escaped first, so a prompt cannot inject HTML.
    """
    text = textwrap.dedent(text).strip()
    blocks = []
    position = 0
    for match in _FENCE.finditer(text):
        blocks += _paragraphs(text[position : match.start()])
        code = html.escape(match.group(1).rstrip("\n"), quote=False)
        blocks.append(f"<pre><code>{code}</code></pre>")
        position = match.end()
    blocks += _paragraphs(text[position:])
    return "".join(blocks)


def _paragraphs(text: str) -> list[str]:
    chunks = re.split(r"\n\s*\n", text.strip())
    return [f"<p>{inline_html(' '.join(chunk.split()))}</p>" for chunk in chunks if chunk.strip()]
