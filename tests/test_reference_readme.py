"""The committed reference set's README states figures of its CSV files: each one is read back from them here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def readme() -> str:
    return " ".join((REFERENCE / "README.md").read_text(encoding="utf-8").split())  # lines joined


def summary(part: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / part / "summary.csv", comment="#")


def pm(frame: pd.DataFrame, setting: str, compression: float) -> str:
    row = frame[(frame.setting == setting) & (frame.compression == compression)].iloc[0]
    return f"{row.top1_mean:.2f} ± {row.top1_std:.2f} %"


def test_the_iterative_figures_of_the_status_are_the_summarys(readme) -> None:
    table = summary("iterative")
    a1 = table[table.compression == 1.0].top1_mean
    assert f"at a = 1 every method reaches {a1.min():.1f}–{a1.max():.1f} %" in readme
    assert (f"at a = 2 IMP ({pm(table, 'imp', 2.0)}) leads its own control ({pm(table, 'imp-reinit', 2.0)}), "
            f"SynFlow at initialization ({pm(table, 'synflow-r100', 2.0)}), one-shot Mag ({pm(table, 'mag', 2.0)}) "
            f"and Rand ({table[(table.setting == 'rand') & (table.compression == 2.0)].top1_mean.iloc[0]:.2f} %, "
            "chance)") in readme
    at3 = table[table.compression == 3.0].set_index("setting").top1_mean
    assert at3.drop("imp").max() < 11.4 < at3["imp"]  # "only IMP is above chance"
    assert f"at a = 3 only IMP is above chance ({pm(table, 'imp', 3.0)})" in readme
    order = table[table.compression == 2.0].set_index("setting").top1_mean
    assert list(order.sort_values(ascending=False).index) == ["imp", "imp-reinit", "synflow-r100", "mag", "rand"]


def test_the_sweeps_figure_of_the_status_is_the_summarys(readme) -> None:
    table = summary("mnist-sweep")
    low = table[table.compression <= 0.2].top1_mean
    assert f"up to a = 0.2 every setting's mean lies between {low.min():.2f} % and {low.max():.2f} %" in readme


def test_the_main_readmes_iterative_figures_are_the_summarys() -> None:
    text = " ".join((REFERENCE.parent / "README.md").read_text(encoding="utf-8").split())
    table = summary("iterative")
    rand = table[(table.setting == "rand") & (table.compression == 2.0)].top1_mean.iloc[0]
    assert (f"at a = 2, IMP with 5 levels of 4 epochs reaches {pm(table, 'imp', 2.0)}, its lottery-ticket control "
            f"(the same mask, fresh weights) {pm(table, 'imp-reinit', 2.0)}, SynFlow at initialization "
            f"{pm(table, 'synflow-r100', 2.0)}, one-shot Mag {pm(table, 'mag', 2.0)} and Rand {rand:.2f} % (chance)") in text
