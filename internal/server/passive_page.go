package server

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// The passive sign-in's pages: plain HTML and a little CSS, no script
// except the one that posts the token on (with a button for browsers
// without script). html/template escapes every value for its context.
var passivePages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Brand.Title}}</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f6;color:#1b1b1f}
main{max-width:24rem;margin:4rem auto;padding:2rem;background:#fff;border-top:.4rem solid {{.Color}};border-radius:.3rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}
img{max-width:100%;max-height:4rem;margin-bottom:1rem}
label{display:block;font-weight:600;margin:1rem 0 .3rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font-size:1rem;border:1px solid #767680;border-radius:.2rem}
input:focus,button:focus{outline:3px solid {{.Color}};outline-offset:2px}
button{margin-top:1.5rem;width:100%;padding:.7rem;font-size:1rem;color:#fff;background:{{.Color}};border:0;border-radius:.2rem;cursor:pointer}
.error{padding:.7rem;background:#fdecea;border-left:.3rem solid #b3261e;color:#5f1412}
</style>
</head>
<body>
<main>
{{with .Brand.LogoURL}}<img src="{{.}}" alt="">{{end}}
{{end}}

{{define "signin"}}{{template "head" .}}<h1>{{.Brand.Title}}</h1>
{{with .Error}}<p class="error" role="alert" id="error">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="state" value="{{.State}}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required{{if not .Username}} autofocus{{end}} value="{{.Username}}"{{if .Error}} aria-describedby="error"{{end}}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{{if .Username}} autofocus{{end}}>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
{{end}}

{{define "message"}}{{template "head" .}}<h1>{{.Heading}}</h1>
<p{{if .Error}} class="error" role="alert"{{end}}>{{.Message}}</p>
{{with .Link}}<p><a href="{{.}}">Return to the application</a></p>{{end}}
</main>
</body>
</html>
{{end}}

{{define "post"}}<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Signing in</title></head>
<body>
<form method="post" action="{{.ReplyURL}}">
<input type="hidden" name="wa" value="wsignin1.0">
<input type="hidden" name="wresult" value="{{.Result}}">
{{with .Context}}<input type="hidden" name="wctx" value="{{.}}">{{end}}
<noscript><p>Script is off: press Continue to return to the application.</p><button type="submit">Continue</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.forms[0].submit()</script>
</body>
</html>
{{end}}
`))

// defaultColor is the accent colour of an unbranded page.
const defaultColor = "#2f5da8"

// pageData is what the sign-in and message pages show.
type pageData struct {
	Brand policy.SignInPage
	// Color is the brand colour or the default; it is a #rrggbb from the
	// schema, and html/template escapes it for CSS all the same.
	Color template.CSS
	Nonce string

	// The sign-in form.
	Action, State, Username, Error string

	// A message page.
	Heading, Message, Link string
}

func newPage(brand policy.SignInPage) pageData {
	color := defaultColor
	if validColor(brand.Color) {
		color = brand.Color
	}
	return pageData{Brand: brand, Color: template.CSS(color), Nonce: randomToken()}
}

// validColor reports whether c is #rrggbb, the only form written into CSS.
func validColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	_, err := strconv.ParseUint(c[1:], 16, 32)
	return err == nil
}

// postData is the page that carries the token to the relying party.
type postData struct {
	ReplyURL, Result, Context, Nonce string
}

// writePage sends a page with the security headers every passive page
// carries: no caching (the form and the token are for this response
// only), no framing, a CSP that allows the page's own nonce'd style and
// script, images over https, and forms posted to formAction.
func writePage(w http.ResponseWriter, status int, name string, data any, nonce, formAction string) error {
	var buf bytes.Buffer
	if err := passivePages.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; img-src https:; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// origin is the scheme and host of a URL, as CSP names a source.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "'none'"
	}
	return u.Scheme + "://" + u.Host
}
