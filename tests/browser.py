"""What the browser tests share: the operating system's headless Chromium,
driven by Selenium, and a record of every request a page makes."""
import json
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from classroom.course import COURSE_ROOT

# Debian's packages; no tool downloads a browser of its own
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
INSTALL_HINT = 'as root: apt-get install -y chromium chromium-driver (.ci/run does it)'
# What people look at after a run
SCREENSHOTS = COURSE_ROOT / 'build' / 'screenshots'
# Without the background-networking flags, Chromium calls its vendor's hosts
FLAGS = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--window-size=1400,1000',
]
LOCAL_HOSTS = {'127.0.0.1', 'localhost', '::1'}


def start_chromium(profile_folder, accept_insecure_certs=False):
    """A headless Chromium with a fresh profile in `profile_folder`, which
    records its network traffic (see `requests_made`). Fails, in one line
    that says how to install them, where Chromium or ChromeDriver is missing.
    `accept_insecure_certs`: a test's self-signed certificate is accepted."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        pytest.fail(f'{" and ".join(missing)} not found: install them {INSTALL_HINT}', pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f'--user-data-dir={profile_folder}']:
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL'})
    options.accept_insecure_certs = accept_insecure_certs
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def network_log(driver):
    """(URLs requested, URLs that failed to load) since the last call, from
    the browser's performance log, which each call empties."""
    requested, failed = {}, []
    for entry in driver.get_log('performance'):
        message = json.loads(entry['message'])['message']
        if message['method'] == 'Network.requestWillBeSent':
            requested[message['params']['requestId']] = message['params']['request']['url']
        elif message['method'] == 'Network.loadingFailed' and not message['params'].get('canceled'):
            failed.append(requested.get(message['params']['requestId'], message['params']['requestId']))
    return list(requested.values()), failed


def requests_made(driver):
    """The URLs the browser requested since the last look at its log."""
    return network_log(driver)[0]


def leaving_the_machine(urls):
    """The URLs among `urls` that go to another host than this machine
    (data: and blob: URLs stay in the page)."""
    return [
        url for url in urls
        if urlparse(url).scheme not in ('data', 'blob', 'file', 'about', 'chrome')
        and urlparse(url).hostname not in LOCAL_HOSTS
    ]


def screenshot(driver, name):
    """Saves what the browser shows as build/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f'{name}.png'
    driver.save_screenshot(str(path))
    return path
