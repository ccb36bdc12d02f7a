import io

from rich.console import Console

from axon_data import DataLoader, progress_bar


def test_progress_bar_yields_everything_and_reports_the_count():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    loader = DataLoader(list(range(10)), batch_size=3)
    batches = list(progress_bar(loader, description="epoch 1", console=console))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    text = out.getvalue()
    assert "epoch 1" in text and "4/4" in text


def test_progress_bar_on_a_stream_without_length():
    out = io.StringIO()
    items = list(progress_bar((i for i in range(5)), console=Console(file=out, force_terminal=False, width=100)))
    assert items == [0, 1, 2, 3, 4]
    assert "5" in out.getvalue()
