"""Discussions that cannot drift from results: each claim is checked where it is rendered.

A notebook's discussion is rendered by a code cell from the notebook's own results. Each
sentence that compares or concludes goes through :func:`claim` with the condition that makes
it true. With the notebook's own parameters (what nbval, ``make demo`` and a student's first
run use) a claim that no longer holds raises :class:`ClaimError`, so the prose and the
outputs cannot part silently. With parameters changed by papermill (``-p POST_EPOCHS 1``,
an instructor's sweep), the prose was not written for those settings: a claim that does not
hold is shown flagged instead of stopping the batch run.

Example:
    >>> claim(96.3 > 11.4, "Rand beats chance at compression 1.")
    'Rand beats chance at compression 1.'
    >>> claim(False, "SNIP collapses.")
    Traceback (most recent call last):
    ...
    prunekit.teach.claims.ClaimError: a claim of the discussion does not hold for the results above: SNIP collapses.
"""

from __future__ import annotations

from collections.abc import Iterable

from IPython.display import Markdown

from prunekit.teach.parameters import changed_parameters

__all__ = ["ClaimError", "claim", "discussion", "expect"]

FLAG = "⚠ with the changed parameters ({names}) this does not hold: "
"""Prefix of a claim that does not hold when parameters were changed."""


class ClaimError(AssertionError):
    """A discussion claim that the notebook's own results contradict."""


def claim(holds: bool, statement: str) -> str:
    """The statement, checked against the condition that makes it true.

    Args:
        holds: Whether the results show what ``statement`` says (computed from them).
        statement: The sentence, rendered from the results (f-string).

    Returns:
        ``statement`` when it holds; when it does not and parameters were changed from the
        notebook's defaults, the statement behind a warning naming them.

    Raises:
        ClaimError: If it does not hold with the notebook's own parameters.
    """
    if bool(holds):
        return statement
    changed = changed_parameters()
    if not changed:
        raise ClaimError(f"a claim of the discussion does not hold for the results above: {statement}")
    return FLAG.format(names=", ".join(changed)) + statement


def expect(holds: bool, statement: str) -> None:
    """Checks a claim the rendered discussion makes, like ``assert`` but aware of changed parameters.

    Args:
        holds: Whether the results show it.
        statement: What the discussion says, in words (the message when it does not hold).

    Raises:
        ClaimError: If it does not hold with the notebook's own parameters; with changed
            parameters the flagged statement is printed instead.

    Example:
        >>> expect(3 > 2, "three exceeds two")
    """
    text = claim(holds, statement)
    if text != statement:
        print(text)


def discussion(lines: Iterable[str]) -> Markdown:
    """The discussion's bullet points as Markdown for ``display`` (plain text outside IPython).

    Args:
        lines: Rendered sentences (each usually from :func:`claim`).

    Returns:
        An ``IPython.display.Markdown`` object.

    Example:
        >>> print(discussion(["**Collapse.** none.", "**Time.** equal."]).data)
        - **Collapse.** none.
        - **Time.** equal.
    """
    return Markdown("\n".join(f"- {line}" for line in lines))
