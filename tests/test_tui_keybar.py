"""The key bar (tui.widgets.keybar.KeyBar): Textual's Footer as the person sees and clicks
it, made once per set of keys shown rather than on every focus change."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer
from textual.widgets._footer import FooterKey

from tests.tui_fixture import sync
from tui.widgets.keybar import KeyBar


class Keys(App[None]):
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("r", "retrain", "Retrain"),
        Binding("x", "hidden", "Not shown", show=False),
    ]

    def __init__(self, bar: type[Footer]) -> None:
        super().__init__()
        self.bar, self.done, self.retrain_on = bar, [], True

    def compose(self) -> ComposeResult:
        yield DataTable(id="one")
        yield DataTable(id="two")
        yield self.bar()

    def on_mount(self) -> None:
        self.query_one("#one").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "retrain" and not self.retrain_on else True

    def action_add(self) -> None:
        self.done.append("add")

    def action_retrain(self) -> None:
        self.done.append("retrain")


async def _settled(app: Keys, pilot) -> list[FooterKey]:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    return list(app.query(FooterKey))


async def _clicked(bar: type[Footer]) -> tuple[str, list[str]]:
    """The keys shown, clicked, disabled and clicked again: the screen and what ran."""
    app = Keys(bar)
    async with app.run_test(size=(60, 6)) as pilot:
        keys = await _settled(app, pilot)
        assert [(k.key, k.description, k.has_class("-compact")) for k in keys] == [
            ("a", "Add", False),
            ("r", "Retrain", False),
            ("ctrl+p", "palette", True),  # (Footer leaves it compact)
        ]
        await pilot.click(keys[1])
        app.retrain_on = False  # a disabled key is drawn dim and rings the bell
        app.refresh_bindings()
        keys = await _settled(app, pilot)
        assert [k.has_class("-disabled") for k in keys] == [False, True, False]
        await pilot.click(keys[1])
        await pilot.click(keys[0])
        return app.export_screenshot(), app.done


@sync
async def test_the_key_bar_draws_and_answers_clicks_as_textuals_footer():
    footer, keybar = await _clicked(Footer), await _clicked(KeyBar)
    assert keybar[1] == footer[1] == ["retrain", "add"]
    assert keybar[0] == footer[0]  # the same picture, cell for cell


@sync
async def test_a_focus_change_that_shows_the_same_keys_keeps_the_keys_as_they_are():
    """Footer made its keys again on every focus change (new widgets, restyled twice each);
    the key bar keeps them while what it shows is the same."""
    app = Keys(KeyBar)
    async with app.run_test(size=(60, 6)) as pilot:
        before = await _settled(app, pilot)
        app.query_one("#two").focus()
        after = await _settled(app, pilot)
        assert [id(k) for k in after] == [id(k) for k in before]
        app.retrain_on = False  # what it shows changed: made again
        app.refresh_bindings()
        again = await _settled(app, pilot)
        assert not set(map(id, again)) & set(map(id, before))
