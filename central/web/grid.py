"""A server-side paged and sorted table: AG Grid (dash-ag-grid) fed one page at a time.

The Received, Comparison, Quarantine, Maintenance and Resources pages are each a Grid:
column headers that sort, a pager (« ‹ Page 1 of 74 › »  Displaying 1 - 25 of 1839) and
rows fetched one page at a time by a callback, so that the browser never holds more
than one page. The grid runs AG Grid's client-side row model over that page only: a
header click changes the sort in the grid's column state, which comes back to the
server; the server sorts and pages (under the access rule, in `fetch`) and sends the
next page's rows, already formatted. AG Grid's own sorting is neutralised (every
comparison is a tie, so the server's order stays), its pagination panel is not used.

Nothing here needs `eval`: the few grid options that are functions are single property
reads (`params.data.row_class`), which dash-ag-grid evaluates without `new Function`, so
the grid runs under the Content-Security-Policy of central/web/headers.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from .queries import Page, display_time

# The pager's buttons, in the order they appear.
PAGER_BUTTONS = (("first", "«", "First page"), ("prev", "‹", "Previous page"))
PAGER_BUTTONS_AFTER = (("next", "›", "Next page"), ("last", "»", "Last page"))
ROW_CLASS = "row_class"  # the field of a row that carries its class (Grid.row_class)
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")


@dataclass(frozen=True)
class Column:
    key: str  # the database column
    label: str
    time: bool = False  # shown as yyyy/mm/dd hh:mm:ss, newest first when sorted
    sortable: bool = True
    href: Callable[[dict[str, Any]], str] | None = None  # makes the cell a link
    text: str | None = None  # the link's text instead of the value
    format: Callable[[Any], str] | None = None  # how a value is shown (default: str)

    def shown(self, row: dict[str, Any]) -> str:
        """The cell's text for `row` (a link as Markdown, the grid's link renderer)."""
        value = row.get(self.key)
        if self.time:
            text = display_time(value)
        elif value is None:
            text = ""
        else:
            text = self.format(value) if self.format else str(value)
        if self.href is None:
            return text
        label = _MARKDOWN_SPECIALS.sub(r"\\\1", self.text or text)
        return f"[{label}]({self.href(row)})"


@dataclass(frozen=True)
class Grid:
    name: str  # prefix of every component id
    columns: tuple[Column, ...]
    default_sort: str
    selectable: bool = False  # a checkbox per row
    row_class: Callable[[dict[str, Any]], str] | None = None  # e.g. mark flagged rows

    def id(self, part: str) -> str:
        return f"{self.name}-{part}"

    def column(self, key: Any) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def initial_state(self) -> dict[str, Any]:
        column = self.column(self.default_sort)
        return {"page": 1, "sort": self.default_sort, "desc": bool(column and column.time)}

    def clean_state(self, state: Any) -> dict[str, Any]:
        """The state as sent back by a browser, with anything unexpected replaced."""
        clean = self.initial_state()
        if isinstance(state, dict):
            page = state.get("page")
            if isinstance(page, int) and not isinstance(page, bool) and page >= 1:
                clean["page"] = page
            column = self.column(state.get("sort"))
            if column is not None and column.sortable:
                clean["sort"] = column.key
                clean["desc"] = bool(state.get("desc"))
        return clean

    def sort_of(self, column_state: Any) -> tuple[str, bool] | None:
        """The sort a grid's column state asks for (column, descending), if any: the
        first sorted column that may be sorted by."""
        if not isinstance(column_state, list):
            return None
        sorted_columns = [
            c for c in column_state if isinstance(c, dict) and c.get("sort") in ("asc", "desc")
        ]
        sorted_columns.sort(key=lambda c: c.get("sortIndex") or 0)
        for entry in sorted_columns:
            column = self.column(entry.get("colId"))
            if column is not None and column.sortable:
                return column.key, entry["sort"] == "desc"
        return None

    def next_state(
        self, trigger: Any, state: Any, pages: Any, column_state: Any = None
    ) -> dict[str, Any]:
        """The state after a click on the pager, a sort in the grid's headers, or a
        filter change."""
        state = self.clean_state(state)
        pages = pages if isinstance(pages, int) and pages >= 1 else 1
        page = state["page"]
        moves = {
            self.id("first"): 1,
            self.id("prev"): page - 1,
            self.id("next"): page + 1,
            self.id("last"): pages,
        }
        if isinstance(trigger, str) and trigger in moves:
            state["page"] = min(max(1, moves[trigger]), pages)
        elif trigger == self.id("body"):  # the grid's column state changed
            wanted = self.sort_of(column_state)
            if wanted is not None and wanted != (state["sort"], state["desc"]):
                state["sort"], state["desc"] = wanted
                state["page"] = 1
        else:  # a filter changed: back to the first page
            state["page"] = 1
        return state

    # ----------------------------------------------------------------- layout
    def column_defs(self) -> list[dict[str, Any]]:
        initial = self.initial_state()
        defs = []
        for column in self.columns:
            spec: dict[str, Any] = {
                "field": column.key,
                "headerName": column.label,
                "cellClass": column.key,
                "sortable": column.sortable,
            }
            if column.sortable:
                spec["comparator"] = {"function": "0"}  # the server sorts
                spec["sortingOrder"] = ["desc", "asc"] if column.time else ["asc", "desc"]
                if column.key == initial["sort"]:
                    spec["sort"] = "desc" if initial["desc"] else "asc"
            if column.href is not None:
                spec["cellRenderer"] = "markdown"
            defs.append(spec)
        return defs

    def grid_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "domLayout": "autoHeight",
            "ensureDomOrder": True,  # cells in column order for screen readers (and tests)
            "rowHeight": 32,
            "headerHeight": 36,
            "suppressCellFocus": True,
            "suppressMultiSort": True,
            "suppressMovableColumns": True,
            "animateRows": False,
            "enableCellTextSelection": True,
            "localeText": {"noRowsToShow": "Nothing to display"},
        }
        if self.selectable:
            options["rowSelection"] = {
                "mode": "multiRow",
                "checkboxes": True,
                "headerCheckbox": True,
                "enableClickSelection": False,
            }
        if self.row_class is not None:
            options["getRowClass"] = {"function": f"params.data.{ROW_CLASS}"}
        return options

    def layout(self) -> html.Div:
        return html.Div(
            [
                dcc.Store(id=self.id("state"), data=self.initial_state()),
                dcc.Store(id=self.id("pages"), data=1),
                html.Div(
                    dag.AgGrid(
                        id=self.id("body"),
                        columnDefs=self.column_defs(),
                        rowData=[],
                        defaultColDef={"resizable": True, "minWidth": 60, "maxWidth": 480},
                        dashGridOptions=self.grid_options(),
                        columnSize="autoSize",
                        className="stax-grid",
                        style={"height": None, "width": "100%"},
                    ),
                    id=self.id("table"),
                    className="grid-scroll",
                ),
                html.Div(
                    [
                        *(self._pager_button(*b) for b in PAGER_BUTTONS),
                        html.Span(id=self.id("pageinfo"), className="pageinfo"),
                        *(self._pager_button(*b) for b in PAGER_BUTTONS_AFTER),
                        html.Span(id=self.id("displaying"), className="displaying"),
                    ],
                    className="pager",
                ),
            ],
            className="grid-box",
        )

    def _pager_button(self, part: str, symbol: str, title: str) -> html.Button:
        return html.Button(symbol, id=self.id(part), n_clicks=0, title=title, className="page")

    def rows(self, page: Page) -> list[dict[str, Any]]:
        """The page's rows as the grid shows them: every cell's text, the row's id (for
        the selection) and its class. Nothing else of the row leaves the server."""
        return [self._row(row) for row in page.rows]

    def _row(self, row: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = {column.key: column.shown(row) for column in self.columns}
        shown["id"] = row["id"]
        if self.row_class is not None:
            shown[ROW_CLASS] = self.row_class(row)
        return shown


def pager_texts(page: Page) -> tuple[str, str]:
    """`Page 1 of 74` and `Displaying 1 - 25 of 1839`."""
    displaying = (
        f"Displaying {page.first} - {page.last} of {page.total}"
        if page.total
        else "Nothing to display"
    )
    return f"Page {page.page} of {page.pages}", displaying


def register_grid(
    app: Dash,
    grid: Grid,
    fetch: Callable[[dict[str, Any], Sequence[Any]], Page],
    filters: Sequence[Input] = (),
    refresh: Sequence[Input] = (),
) -> None:
    """The grid's callbacks: the pager, the grid's sort and the filters change its
    state; the state and the filters fetch a page. `fetch(state, filter_values)` runs on
    the server for every page and must apply the access rule itself. A change of a
    `refresh` input (e.g. a version a form bumps after an edit) fetches the same page
    again, without going back to the first one."""

    @app.callback(
        Output(grid.id("state"), "data"),
        Input(grid.id("first"), "n_clicks"),
        Input(grid.id("prev"), "n_clicks"),
        Input(grid.id("next"), "n_clicks"),
        Input(grid.id("last"), "n_clicks"),
        Input(grid.id("body"), "columnState"),
        *filters,
        State(grid.id("state"), "data"),
        State(grid.id("pages"), "data"),
        prevent_initial_call=True,
    )
    def _change_state(*args: Any) -> dict[str, Any]:
        column_state, state, pages = args[4], args[-2], args[-1]
        new = grid.next_state(ctx.triggered_id, state, pages, column_state)
        if ctx.triggered_id == grid.id("body") and new == grid.clean_state(state):
            raise PreventUpdate  # a column resized or shown: the same page
        return new

    @app.callback(
        Output(grid.id("body"), "rowData"),
        Output(grid.id("pageinfo"), "children"),
        Output(grid.id("displaying"), "children"),
        Output(grid.id("pages"), "data"),
        Output(grid.id("body"), "columnSize"),
        Input(grid.id("state"), "data"),
        *filters,
        *refresh,
    )
    def _show_page(state: Any, *values: Any) -> tuple:
        state = grid.clean_state(state)
        page = fetch(state, values[: len(filters)])
        # the columns sized to this page's cells (dash-ag-grid clears columnSize once done)
        return (grid.rows(page), *pager_texts(page), page.pages, "autoSize")
