"""The sans-IO DTLS 1.2 core: datagrams and ``now`` in, datagrams and deadlines out.

Nothing here opens a socket or reads a clock, and nothing imports from the layers above
(only OpenSSL and cryptography): :mod:`.connection` is the state machine, :mod:`.states`
its table of legal transitions, :mod:`.records` the DTLS record framing, :mod:`.cookies`
the stateless HelloVerifyRequest cookies, :mod:`.verification` the certificate and name
checks, :mod:`.psk` the pre-shared-key callbacks, :mod:`.events` what a connection reports.
"""
