package client

// WithToken sends token as the API key of every request
// ("Authorization: Bearer <token>"), for a lockd that asks for keys.
// Keep it secret: use https:// to a lockd on another machine. It has no
// effect on NewLocal. The default is no token.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}
