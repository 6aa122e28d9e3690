"""md.viz.backprop_page in a real browser: headless Chromium driven by Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them where missing) and
the ``selenium`` package (the ``test`` extra); without them these tests skip, saying what is
missing.  One browser serves the whole module.
"""
import shutil
import time

import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl.viz.backprop_page import backprop_page
from minidl.viz.backprop_record import record_forward
from test_backprop_page import lstm_loss, scalar_expression

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser():
    """(browser, driver) paths, or the reason they cannot be used."""
    browser = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        return None, f"{missing} not installed (Debian: apt-get install chromium chromium-driver; .ci/run does it)"
    return (browser, driver), None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    paths, reason = find_browser()
    if paths is None:
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(argument)  # any request would go to a proxy that refuses it, and show up as an error
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    yield driver
    driver.quit()


def open_page(browser, path):
    """Load ``path``; return the console messages of the load (a fresh log)."""
    browser.get_log("browser")
    browser.get(path.as_uri())
    return browser.get_log("browser")


def state(browser):
    return browser.execute_script("return window.backprop.state()")


def assert_numbers(shown, expected, name):
    """The page's numbers for a gradient: every value, or the statistics of a big one."""
    expected = np.asarray(expected, dtype=np.float64)
    if isinstance(shown, dict):
        shown, expected = [shown["min"], shown["max"], shown["mean"], shown["norm"]], [
            expected.min(), expected.max(), expected.mean(), np.linalg.norm(expected)]
    np.testing.assert_allclose(shown, np.ravel(expected), rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.fixture(scope="module")
def scalar_page(tmp_path_factory):
    loss, leaves = scalar_expression()
    path = tmp_path_factory.mktemp("pages") / "scalar.html"
    backprop_page(loss, path, names=leaves)
    return path, leaves


def test_the_keyboard_reaches_every_step_and_the_last_shows_the_engines_grads(browser, scalar_page):
    path, leaves = scalar_page
    messages = open_page(browser, path)
    assert messages == [], messages
    length = browser.execute_script("return window.backprop.length")
    body = browser.find_element("tag name", "body")
    steps = [state(browser)["step"]]
    for _ in range(length - 1):
        body.send_keys("\ue014")  # ArrowRight
        steps.append(state(browser)["step"])
    assert steps == list(range(length))
    last = state(browser)
    assert last["phase"] == "backward"
    for name, leaf in leaves.items():
        assert_numbers(last["grads"][name], leaf.grad.numpy(), name)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.get_log("browser") == []


def test_screenshots_at_three_steps(browser, scalar_page, tmp_path):
    path, _ = scalar_page
    open_page(browser, path)
    length = browser.execute_script("return window.backprop.length")
    for step in (0, length // 2, length - 1):
        browser.execute_script(f"window.backprop.go({step})")
        shot = tmp_path / f"backprop_step_{step}.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        print("screenshot:", shot)


def test_a_cnn_page_shows_the_engines_grads_without_errors(browser, tmp_path):
    md.manual_seed(0)
    model = md.models.cnn(image_size=8)
    with record_forward():
        loss = F.cross_entropy(model(md.rand(4, 1, 8, 8)), md.tensor([0, 1, 2, 3]))
    backprop_page(loss, tmp_path / "cnn.html", model=model)
    assert open_page(browser, tmp_path / "cnn.html") == []
    final = browser.execute_script("return window.backprop.go(window.backprop.length - 1)")
    for name, parameter in model.named_parameters():
        assert_numbers(final["grads"][name], parameter.grad.numpy(), name)
    assert browser.find_elements("css selector", "#panel canvas"), "no heat map drawn"
    assert browser.get_log("browser") == []


def test_a_folded_lstm_step_expands_on_click(browser, tmp_path):
    loss, model = lstm_loss()
    backprop_page(loss, tmp_path / "lstm.html", model=model)
    assert open_page(browser, tmp_path / "lstm.html") == []
    count = "return document.querySelectorAll(arguments[0]).length"
    assert browser.execute_script(count, "g.folded") == 3 and browser.execute_script(count, "g.cluster") == 0
    ops_drawn = browser.execute_script(count, "g.op")
    browser.find_element("css selector", "g.folded").click()
    assert browser.execute_script(count, "g.folded") == 2 and browser.execute_script(count, "g.cluster") == 1
    assert browser.execute_script(count, "g.op") > ops_drawn
    browser.execute_script("window.backprop.go(window.backprop.length - 1)")
    assert browser.get_log("browser") == []


def test_a_300_node_graph_is_interactive_within_2_seconds(browser, tmp_path):
    rng = np.random.default_rng(0)
    weights = [md.tensor(float(v), requires_grad=True) for v in rng.standard_normal(50)]
    out = weights[0]
    for previous, weight in zip(weights, weights[1:]):
        out = (out * weight).tanh() + previous * 0.5  # 4 ops and a constant per weight: ~300 boxes
    backprop_page(out, tmp_path / "big.html", names={f"w{i}": w for i, w in enumerate(weights)})
    started = time.perf_counter()
    assert open_page(browser, tmp_path / "big.html") == []
    ready_ms = browser.execute_script("return window.backprop.readyAt")  # since navigation started
    drawn = browser.execute_script("return document.querySelectorAll('g.op, g.tensor.leaf, g.tensor.constant').length")
    print(f"300-node page: interactive after {ready_ms:.0f} ms ({time.perf_counter() - started:.2f} s with the driver)")
    assert drawn >= 290 and ready_ms < 2000


TUTORIAL_PAGES = [  # tutorial, its page, the named tensors whose gradients the last step shows
    ("01_autograd", "01_backprop.html", {"a", "b"}),
    ("04_convolution", "04_backprop.html", {"0.weight", "0.bias", "4.weight", "4.bias"}),
    ("05_lstm", "05_backprop.html", {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}),
]


@pytest.mark.parametrize("tutorial, page, names", TUTORIAL_PAGES, ids=[t[0] for t in TUTORIAL_PAGES])
def test_the_tutorials_pages_work_in_the_browser(browser, tutorial_runs, tutorial, page, names):
    """The pages tutorials 01, 04 and 05 write (read from the same script runs as test_tutorials.py)."""
    from pathlib import Path

    result, folder = tutorial_runs(Path(__file__).resolve().parents[1] / "tutorials" / f"{tutorial}.py")
    assert result.returncode == 0, result.stderr
    path = folder / page
    assert path.stat().st_size < 2_000_000
    assert open_page(browser, path) == []
    last = browser.execute_script("return window.backprop.go(window.backprop.length - 1)")
    assert set(last["grads"]) == names and all(grad is not None for grad in last["grads"].values())
