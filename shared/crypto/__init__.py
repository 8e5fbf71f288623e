"""The network's own certificates and the signed, encrypted messages stations send.

`certs`: certificates and CRLs built from plain arguments (time passed in).
`files`: reading and writing keys, certificates and CRLs (PEM) with tight permissions.
`pki`: the certificate authority's folder (`stax pki`).
`cms`: the wire contract: sign, encrypt, decrypt, verify.
"""
