"""A raw Kafka protocol client for tests that need exact bytes: pipelining,
malformed frames, versions real clients would not send. Request and
response bodies come from kafka-python's protocol module (Debian's
python3-kafka), so the test does not share code with the broker."""
import io
import socket
import struct


class Closed(Exception):
    pass


class RawClient:
    def __init__(self, port, host="127.0.0.1", timeout=10.0, client_id=b"rill-test",
                 rcvbuf=None):
        """rcvbuf: a receive buffer size set before connecting (a small one
        makes a slow reader whose answers the broker cannot send at once)."""
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def header(self, api_key, version, corr, flexible=False):
        h = struct.pack(">hhih", api_key, version, corr, len(self.client_id)) + self.client_id
        if flexible:
            h += b"\x00"  # empty tag section (request header v2)
        return h

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def send(self, api_key, version, body, flexible=False):
        self.corr += 1
        self.send_frame(self.header(api_key, version, self.corr, flexible) + body)
        return self.corr

    def send_request(self, req):
        body = req.encode()  # req stays referenced: kafka-python holds it weakly
        return self.send(req.API_KEY, req.API_VERSION, body)

    def _read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Closed("connection closed by the broker")
            buf += chunk
        return buf

    def recv_frame(self):
        size = struct.unpack(">i", self._read_exact(4))[0]
        return self._read_exact(size)

    def recv(self):
        """Returns (correlation id, rest of the frame)."""
        frame = self.recv_frame()
        return struct.unpack(">i", frame[:4])[0], frame[4:]

    def request(self, req):
        corr = self.send_request(req)
        got, payload = self.recv()
        assert got == corr, "correlation %d answered as %d" % (corr, got)
        return req.RESPONSE_TYPE.decode(io.BytesIO(payload))

    def closed_by_peer(self, timeout=5.0):
        """True when the broker closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True


class FlexReader:
    """Reads a flexible-version response body by hand (for APIs kafka-python
    2.0.2 has no classes for): fixed-size fields, unsigned varints, compact
    strings."""

    def __init__(self, payload):
        self.r = io.BytesIO(payload)

    def fixed(self, fmt):
        return struct.unpack(fmt, self.r.read(struct.calcsize(fmt)))[0]

    def raw(self, n):
        return self.r.read(n)

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.r.read(1)[0]
            value |= (b & 0x7f) << shift
            if b < 0x80:
                return value
            shift += 7

    def cstring(self):
        """A compact nullable string as bytes (None for null)."""
        n = self.uvarint() - 1
        return self.r.read(n) if n >= 0 else None
