"""A server-side paged and sorted table made of Dash core components.

The Received and Quarantine pages are both a Grid: column headers that sort, a pager
(« ‹ Page 1 of 74 › »  Displaying 1 - 25 of 1839) and rows fetched one page at a time by a
callback, so that the browser never holds more than one page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html

from .queries import Page, display_time

# The pager's buttons, in the order they appear.
PAGER_BUTTONS = (("first", "«", "First page"), ("prev", "‹", "Previous page"))
PAGER_BUTTONS_AFTER = (("next", "›", "Next page"), ("last", "»", "Last page"))


@dataclass(frozen=True)
class Column:
    key: str  # the database column
    label: str
    time: bool = False  # shown as yyyy/mm/dd hh:mm:ss, newest first when sorted
    sortable: bool = True
    href: Callable[[dict[str, Any]], str] | None = None  # makes the cell a link
    text: str | None = None  # the link's text instead of the value
    format: Callable[[Any], str] | None = None  # how a value is shown (default: str)


@dataclass(frozen=True)
class Grid:
    name: str  # prefix of every component id
    columns: tuple[Column, ...]
    default_sort: str
    selectable: bool = False  # a checkbox per row
    row_class: Callable[[dict[str, Any]], str] | None = None  # e.g. mark flagged rows

    def id(self, part: str) -> str:
        return f"{self.name}-{part}"

    @property
    def sort_type(self) -> str:
        return self.id("sort")

    @property
    def select_type(self) -> str:
        return self.id("select")

    def column(self, key: str) -> Column | None:
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

    def next_state(self, trigger: Any, state: Any, pages: Any) -> dict[str, Any]:
        """The state after a click on the pager or a column header, or a filter change."""
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
        elif isinstance(trigger, dict) and trigger.get("type") == self.sort_type:
            column = self.column(trigger.get("column"))
            if column is not None and column.sortable:
                if column.key == state["sort"]:
                    state["desc"] = not state["desc"]
                else:
                    state["sort"], state["desc"] = column.key, column.time
            state["page"] = 1
        else:  # a filter changed: back to the first page
            state["page"] = 1
        return state

    # ----------------------------------------------------------------- layout
    def layout(self) -> html.Div:
        header = []
        if self.selectable:
            check = _checkbox(self.id("select-all"), "all", "all on this page")
            header.append(html.Th(check, className="select"))
        for column in self.columns:
            if column.sortable:
                cell = html.Button(
                    column.label,
                    id={"type": self.sort_type, "column": column.key},
                    n_clicks=0,
                    className="sort",
                    title=f"Sort by {column.label}",
                )
            else:
                cell = column.label
            header.append(html.Th(cell))
        return html.Div(
            [
                dcc.Store(id=self.id("state"), data=self.initial_state()),
                dcc.Store(id=self.id("pages"), data=1),
                html.Div(
                    html.Table(
                        [html.Thead(html.Tr(header)), html.Tbody(id=self.id("body"))],
                        className="grid",
                        id=self.id("table"),
                    ),
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

    def rows(self, page: Page) -> list[html.Tr]:
        if not page.rows:
            span = len(self.columns) + (1 if self.selectable else 0)
            return [html.Tr(html.Td("Nothing to display", colSpan=span, className="empty"))]
        return [self._row(row) for row in page.rows]

    def _row(self, row: dict[str, Any]) -> html.Tr:
        cells = []
        if self.selectable:
            check_id = {"type": self.select_type, "index": row["id"]}
            check = _checkbox(check_id, row["id"], row.get("file_name") or "")
            cells.append(html.Td(check, className="select"))
        for column in self.columns:
            value = row.get(column.key)
            if column.time:
                shown = display_time(value)
            elif value is None:
                shown = ""
            else:
                shown = column.format(value) if column.format else str(value)
            if column.href is not None:
                cells.append(html.Td(html.A(column.text or shown, href=column.href(row))))
            else:
                cells.append(html.Td(shown, className=column.key))
        extra = {"className": self.row_class(row)} if self.row_class else {}
        return html.Tr(cells, id=f"{self.name}-row-{row['id']}", **extra)


def _checkbox(component_id: Any, value: Any, label: str) -> dcc.Checklist:
    """One checkbox; its label is for screen readers only."""
    return dcc.Checklist(
        id=component_id,
        options=[{"label": html.Span(label, className="sr-only"), "value": value}],
        value=[],
        className="row-select",
    )


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
) -> None:
    """The grid's callbacks: the pager and headers change its state; the state and the
    filters fetch a page. `fetch(state, filter_values)` runs on the server for every page
    and must apply the access rule itself."""
    sort_ids = {"type": grid.sort_type, "column": ALL}

    @app.callback(
        Output(grid.id("state"), "data"),
        Input(grid.id("first"), "n_clicks"),
        Input(grid.id("prev"), "n_clicks"),
        Input(grid.id("next"), "n_clicks"),
        Input(grid.id("last"), "n_clicks"),
        Input(sort_ids, "n_clicks"),
        *filters,
        State(grid.id("state"), "data"),
        State(grid.id("pages"), "data"),
        prevent_initial_call=True,
    )
    def _change_state(*args: Any) -> dict[str, Any]:
        return grid.next_state(ctx.triggered_id, args[-2], args[-1])

    outputs = [
        Output(grid.id("body"), "children"),
        Output(grid.id("pageinfo"), "children"),
        Output(grid.id("displaying"), "children"),
        Output(grid.id("pages"), "data"),
        Output(sort_ids, "children"),
    ]
    if grid.selectable:
        outputs.append(Output(grid.id("select-all"), "value"))

    @app.callback(*outputs, Input(grid.id("state"), "data"), *filters)
    def _show_page(state: Any, *filter_values: Any) -> tuple:
        state = grid.clean_state(state)
        page = fetch(state, filter_values)
        labels = []
        for output in ctx.outputs_list[4]:
            column = grid.column(output["id"]["column"])
            label = column.label if column else ""
            if column is not None and column.key == state["sort"]:
                label += " ▼" if state["desc"] else " ▲"
            labels.append(label)
        result: tuple = (grid.rows(page), *pager_texts(page), page.pages, labels)
        if grid.selectable:
            result += ([],)
        return result
