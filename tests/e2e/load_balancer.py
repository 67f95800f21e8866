"""Debian's nginx as the load balancer in front of several server instances, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp

CONFIG = """\
{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream app {{
        # As deploy/Caddyfile: the instance with the fewest open connections (media streams
        # are long-lived ones), so calls spread over the instances.
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


class Nginx:
    """An nginx process balancing ``upstreams`` (``host:port``), its files in ``tmp``."""

    def __init__(self, tmp: Path, port: int, upstreams: list[str]):
        """Prepare the configuration (nothing runs until :meth:`start`)."""
        self.tmp, self.port, self.upstreams = tmp, port, upstreams
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def config(self) -> str:
        """The generated nginx.conf: no root paths, websocket upgrades passed on."""
        # Run as root (CI containers), the workers would run as nobody, who cannot use tmp.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server {u} max_fails=0;" for u in self.upstreams)
        return CONFIG.format(user=user, tmp=self.tmp, servers=servers, port=self.port)

    async def start(self) -> Nginx:
        """Run nginx in the foreground of its process; return once it answers."""
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.tmp.mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(self.config())
        log = (self.tmp / "nginx.out").open("w")
        self.process = subprocess.Popen(
            [binary, "-p", str(self.tmp), "-e", str(self.tmp / "error.log"), "-c", str(conf)]
            + ["-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx exited:\n{self.logs()}")
                try:
                    async with http.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not answer:\n{self.logs()}")

    def logs(self) -> str:
        """nginx's own output and error log."""
        parts = [self.tmp / "nginx.out", self.tmp / "error.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())[-3000:]

    def stop(self) -> None:
        """Stop nginx (SIGQUIT would wait for open sockets; SIGTERM is a fast shutdown)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
