"""What a curious student tries on the class's hub, done as the attacker
does it: programs run as their own Unix account, or code run in their own
kernel. tests/test_hub.py tries each during its one term and checks that
none of them worked; each worked on the hub before classroom/hub/spawner.py,
sign_in.py and the copy run as the user (issue 24)."""
import json
import os
import threading
from pathlib import Path

import psutil
from jupyter_client import BlockingKernelClient

from classroom.course import wait_for
from tests.class_hub import request

# Run as another student: every TCP port the victim's processes listen on
# is subscribed to (ZeroMQ, as a Jupyter client listens to a kernel's
# output); every kernel of theirs (a process started with -f
# CONNECTION_FILE) has its connection file read and its sockets subscribed
# to, by the path in its command line and through /proc/PID/root. Says
# 'listening' once subscribed, then reports what it heard until 5 s pass in silence
PROBE_ANOTHERS_KERNELS = r'''
import json, os, sys, zmq
victim = int(sys.argv[1])
ports = set()
for table in ('/proc/net/tcp', '/proc/net/tcp6'):
    for line in open(table).read().splitlines()[1:]:
        fields = line.split()
        if fields[3] == '0A' and int(fields[7]) == victim:
            ports.add(int(fields[1].rsplit(':', 1)[1], 16))
kernels, files_read, endpoints = [], [], [f'tcp://127.0.0.1:{port}' for port in sorted(ports)]
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        if os.stat(f'/proc/{pid}').st_uid != victim:
            continue
        arguments = open(f'/proc/{pid}/cmdline').read().split('\0')
    except OSError:
        continue
    if '-f' not in arguments:
        continue
    connection_file = arguments[arguments.index('-f') + 1]
    kernels.append(connection_file)
    for path in (connection_file, f'/proc/{pid}/root{connection_file}'):
        try:
            files_read.append((path, open(path).read()))
        except OSError:
            pass
        for number in range(1, 6):
            endpoints.append(f'ipc://{path[:-len(".json")]}-ipc-{number}')
context = zmq.Context()
listener = context.socket(zmq.SUB)
listener.setsockopt(zmq.SUBSCRIBE, b'')
for endpoint in endpoints:
    try:
        listener.connect(endpoint)
    except zmq.ZMQError:
        pass
print('listening', flush=True)
heard = []
while listener.poll(5_000):
    heard.append(b' '.join(listener.recv_multipart()).decode(errors='replace'))
print(json.dumps({'ports': sorted(ports), 'kernels': kernels, 'connection files read': files_read,
                  'heard': heard}))
'''


# Run in a student's own kernel: a process that leaves the server's session,
# as many processes as it can, more memory than its limit, a file bigger
# than the disk limit, and what its /tmp shows
IN_OWN_KERNEL = '''
import json, os, subprocess, sys
facts = {{'setsid': subprocess.Popen(['setsid', 'sleep', '3600']).pid}}
started = []
try:
    while len(started) < {processes}:
        started.append(subprocess.Popen(['sleep', '300']))
except OSError as error:
    facts['processes refused'] = repr(error)
facts['processes started'] = len(started)
for process in started:
    process.kill()
    process.wait()
facts['memory hog'] = subprocess.run([sys.executable, '-c', 'b"x" * {memory}']).returncode
big = os.path.expanduser('~/big-file')
facts['big file'] = subprocess.run(['fallocate', '-l', '{file}', big], capture_output=True).returncode
if os.path.exists(big):
    os.remove(big)
open('/tmp/left-by-a-student', 'w').write('private?')
facts['tmp'] = sorted(os.listdir('/tmp'))
print(json.dumps(facts))
'''


class KernelsStarted:
    """Notes, in a thread, the transport of every kernel that processes of
    `uids` start while it runs (read as root from its connection file)."""

    def __init__(self, uids, every=0.5):
        self.uids, self.every = set(uids), every
        self.seen, self.pids = [], set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        while not self.done.wait(self.every):
            for process in psutil.process_iter(['uids', 'cmdline']):
                arguments = process.info['cmdline'] or []
                if process.pid in self.pids or not process.info['uids'] or \
                        process.info['uids'].real not in self.uids or '-f' not in arguments:
                    continue
                connection_file = arguments[arguments.index('-f') + 1]
                text = _read(f'/proc/{process.pid}/root{connection_file}')
                if text:
                    self.pids.add(process.pid)
                    self.seen.append({'file': connection_file, 'transport': json.loads(text)['transport']})

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exception):
        self.done.set()
        self.thread.join()


def start_kernel(hub, name, token):
    """Starts a kernel in `name`'s server through the hub, as JupyterLab does; returns its id."""
    status, kernel = request(f'{hub.url}/user/{name}/api/kernels', token, 'POST', {'name': 'python3'})
    assert status == 201, kernel
    return kernel['id']


def kernel_process(uid, kernel_id):
    """(pid, connection file) of the kernel `kernel_id` of `uid`, once it runs."""
    def found():
        for process in psutil.process_iter(['uids', 'cmdline']):
            arguments = process.info['cmdline'] or []
            if process.info['uids'] and process.info['uids'].real == uid and '-f' in arguments and \
                    arguments[arguments.index('-f') + 1].endswith(f'kernel-{kernel_id}.json'):
                return process.pid, arguments[arguments.index('-f') + 1]
        return None
    return wait_for(found, 120, f'the kernel {kernel_id}')


def run_in_kernel(uid, kernel_id, code, timeout=180):
    """Runs `code` in a user's kernel as the user typing it would (root
    connects through the kernel's connection file, seen through
    /proc/PID/root: the file lies in the server's own /tmp); returns what it printed."""
    pid, connection_file = kernel_process(uid, kernel_id)
    root = f'/proc/{pid}/root'
    info = json.loads(wait_for(lambda: _read(root + connection_file), 60, 'the connection file'))
    if info['transport'] == 'ipc':
        info['ip'] = root + info['ip'] if os.path.isabs(info['ip']) else f'/proc/{pid}/cwd/{info["ip"]}'
    client = BlockingKernelClient()
    client.load_connection_info(info)
    # No heartbeat: on a loaded machine a late one reads as a dead kernel
    client.start_channels(hb=False)
    printed = []
    try:
        client.wait_for_ready(timeout=timeout)
        reply = client.execute_interactive(code, timeout=timeout, output_hook=lambda message: printed.append(
            message['content'].get('text', '') if message['msg_type'] == 'stream' else ''))
    finally:
        client.stop_channels()
    assert reply['content']['status'] == 'ok', reply['content']
    return ''.join(printed)


def _read(path):
    try:
        return Path(path).read_text() or None
    except OSError:
        return None
