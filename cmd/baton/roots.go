package main

// baton's image is FROM scratch: no /etc/ssl/certs. Without roots of its own
// it could not reach Let's Encrypt's API (nor an HTTPS webhook). The fallback
// bundle is used only when the system has no roots.
import _ "golang.org/x/crypto/x509roots/fallback"
