package sockets

import "io"

// Readable returns the socket's readable side, the Sockets API's
// socket.readable, as an io.ReadCloser. Its Close cancels reading: later
// reads fail, a pending read is unblocked, and the write side stays open
// (the socket closes once writing is done too).
func (s *Socket) Readable() io.ReadCloser { return readable{s} }

// Writable returns the socket's writable side, the Sockets API's
// socket.writable, as an io.WriteCloser. Its Close sends FIN like
// [Socket.CloseWrite]; with AllowHalfOpen false the socket then closes at the
// peer's EOF.
func (s *Socket) Writable() io.WriteCloser { return writable{s} }

type readable struct{ s *Socket }

func (r readable) Read(b []byte) (int, error)         { return r.s.Read(b) }
func (r readable) WriteTo(w io.Writer) (int64, error) { return r.s.WriteTo(w) }
func (r readable) Close() error                       { return r.s.cancelRead() }

type writable struct{ s *Socket }

func (w writable) Write(b []byte) (int, error)         { return w.s.Write(b) }
func (w writable) ReadFrom(r io.Reader) (int64, error) { return w.s.ReadFrom(r) }
func (w writable) Close() error                        { return w.s.CloseWrite() }
