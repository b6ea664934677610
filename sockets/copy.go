package sockets

import (
	"io"
	"net"
)

// ReadFrom implements [io.ReaderFrom]. Between two plain sockets (or a plain
// socket and a *net.TCPConn or *os.File) it hands the copy to the kernel
// (splice, sendfile), as io.Copy between two *net.TCPConn does.
func (s *Socket) ReadFrom(r io.Reader) (int64, error) {
	if err := s.waitOpen(true); err != nil {
		return 0, s.opError("write", err)
	}
	dst, ok := s.raw.(*net.TCPConn)
	if !ok || s.tlsConn != nil {
		return io.Copy(writerOnly{s}, r)
	}
	src, limit, srcSock := unwrapSource(r)
	if srcSock != nil {
		if err := srcSock.waitOpen(false); err != nil {
			return 0, srcSock.opError("read", err)
		}
		if srcSock.tlsConn != nil {
			return io.Copy(writerOnly{s}, r)
		}
		srcSock.rmu.Lock()
		defer srcSock.rmu.Unlock()
		if f := srcSock.flags.Load(); f&(fClosed|fUpgraded|fReadDone|fReadCancelled) != 0 {
			if err := srcSock.readStateErr(f); err != io.EOF {
				return 0, err
			}
			return 0, nil
		}
	}
	if limit != nil {
		limit.R = src
		src = limit
	}
	s.wmu.Lock()
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fWriteDone) != 0 {
		s.wmu.Unlock()
		return 0, s.writeStateErr(f)
	}
	n, err := dst.ReadFrom(src)
	s.wmu.Unlock()
	s.countOut(n)
	if srcSock != nil {
		srcSock.countIn(n)
	}
	if limit != nil && srcSock != nil {
		// The io.LimitedReader handed in is the caller's: keep its N true.
		r.(*io.LimitedReader).N = limit.N
	}
	if err != nil {
		return n, s.writeFailed(err)
	}
	if srcSock != nil && (limit == nil || limit.N > 0) {
		srcSock.peerEOF()
	}
	return n, nil
}

// unwrapSource finds a plain *Socket behind r (directly or inside an
// io.LimitedReader) and returns its TCP connection in its place.
func unwrapSource(r io.Reader) (src io.Reader, limit *io.LimitedReader, sock *Socket) {
	src = r
	if lr, ok := r.(*io.LimitedReader); ok {
		s, ok := lr.R.(*Socket)
		if !ok {
			return r, nil, nil
		}
		if !s.opened.Load() && s.waitOpen(false) != nil {
			return r, nil, nil
		}
		if tcp, ok := s.raw.(*net.TCPConn); ok && s.tlsConn == nil {
			return tcp, &io.LimitedReader{N: lr.N}, s
		}
		return r, nil, nil
	}
	if s, ok := r.(*Socket); ok {
		if !s.opened.Load() && s.waitOpen(false) != nil {
			return r, nil, s
		}
		if tcp, ok := s.raw.(*net.TCPConn); ok && s.tlsConn == nil {
			return tcp, nil, s
		}
	}
	return r, nil, nil
}

// WriteTo implements [io.WriterTo]. To another plain socket or a
// *net.TCPConn it keeps the kernel's splice path.
func (s *Socket) WriteTo(w io.Writer) (int64, error) {
	if err := s.waitOpen(false); err != nil {
		return 0, s.opError("read", err)
	}
	if d, ok := w.(*Socket); ok {
		return d.ReadFrom(s)
	}
	if _, ok := s.raw.(*net.TCPConn); !ok || s.tlsConn != nil {
		return io.Copy(w, readerOnly{s})
	}
	rf, ok := w.(io.ReaderFrom)
	if !ok {
		return io.Copy(w, readerOnly{s})
	}
	s.rmu.Lock()
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fReadDone|fReadCancelled) != 0 {
		s.rmu.Unlock()
		if err := s.readStateErr(f); err != io.EOF {
			return 0, err
		}
		return 0, nil
	}
	n, err := rf.ReadFrom(s.raw)
	s.rmu.Unlock()
	s.countIn(n)
	if err != nil {
		return n, s.readFailed(err)
	}
	s.peerEOF()
	return n, nil
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// countIn and countOut count bytes moved by the io.Copy fast paths.
func (s *Socket) countIn(n int64) {
	if e := s.opts.eg; e != nil && e.count != nil && n > 0 {
		e.count.BytesRead(n)
	}
}

func (s *Socket) countOut(n int64) {
	if e := s.opts.eg; e != nil && e.count != nil && n > 0 {
		e.count.BytesWritten(n)
	}
}
