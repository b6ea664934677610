package capture_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// A small, strict pcapng reader for the tests: it checks what the writer
// promises (block framing, one raw-IP interface, IP and TCP headers with
// correct lengths and checksums) and gives back the packets and the secrets.

type packet struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	payload  []byte
	us       uint64 // timestamp, microseconds
}

func (p packet) has(f uint8) bool { return p.flags&f == f }

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fACK = 0x10
)

type parsed struct {
	packets []packet
	keylog  []byte
	// order records the block sequence: 'S' SHB, 'I' IDB, 'P' packet, 'D' DSB.
	order []byte
}

func parsePcapng(b []byte) (*parsed, error) {
	le := binary.LittleEndian
	var p parsed
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return nil, fmt.Errorf("offset %d: %d trailing bytes", off, len(b)-off)
		}
		typ, n := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || off+n > len(b) {
			return nil, fmt.Errorf("offset %d: block length %d", off, n)
		}
		if le.Uint32(b[off+n-4:]) != uint32(n) {
			return nil, fmt.Errorf("offset %d: trailing length differs", off)
		}
		body := b[off+8 : off+n-4]
		if off == 0 && typ != 0x0A0D0D0A {
			return nil, fmt.Errorf("first block is %#x, not a Section Header", typ)
		}
		switch typ {
		case 0x0A0D0D0A:
			if len(body) < 16 || le.Uint32(body) != 0x1A2B3C4D || le.Uint16(body[4:]) != 1 {
				return nil, fmt.Errorf("bad section header")
			}
			p.order = append(p.order, 'S')
		case 1:
			if len(body) < 8 || le.Uint16(body) != 101 {
				return nil, fmt.Errorf("interface is not raw IP")
			}
			p.order = append(p.order, 'I')
		case 6:
			if !bytes.Contains(p.order, []byte{'I'}) {
				return nil, fmt.Errorf("packet before the interface")
			}
			if len(body) < 20 {
				return nil, fmt.Errorf("short packet block")
			}
			capLen, origLen := int(le.Uint32(body[12:])), int(le.Uint32(body[16:]))
			if capLen != origLen || 20+capLen > len(body) || len(body)-20-capLen > 3 {
				return nil, fmt.Errorf("packet lengths %d/%d in a %d-byte body", capLen, origLen, len(body))
			}
			pk, err := parseIP(body[20 : 20+capLen])
			if err != nil {
				return nil, fmt.Errorf("packet %d: %v", len(p.packets)+1, err)
			}
			pk.us = uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))
			p.packets = append(p.packets, pk)
			p.order = append(p.order, 'P')
		case 0x0A:
			if len(body) < 8 || le.Uint32(body) != 0x544c534b {
				return nil, fmt.Errorf("secrets block of another type")
			}
			sn := int(le.Uint32(body[4:]))
			if 8+sn > len(body) || len(body)-8-sn > 3 {
				return nil, fmt.Errorf("secrets length %d in a %d-byte body", sn, len(body))
			}
			p.keylog = append(p.keylog, body[8:8+sn]...)
			p.order = append(p.order, 'D')
		default:
			return nil, fmt.Errorf("unexpected block type %#x", typ)
		}
		off += n
	}
	return &p, nil
}

func parseIP(b []byte) (packet, error) {
	be := binary.BigEndian
	var pk packet
	var src, dst netip.Addr
	var tcp []byte
	var pseudo uint64
	switch {
	case len(b) >= 20 && b[0] == 0x45:
		if int(be.Uint16(b[2:])) != len(b) {
			return pk, fmt.Errorf("IPv4 total length %d, packet %d", be.Uint16(b[2:]), len(b))
		}
		if b[9] != 6 {
			return pk, fmt.Errorf("not TCP")
		}
		if csum(0, b[:20]) != 0xffff {
			return pk, fmt.Errorf("bad IPv4 header checksum")
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		tcp = b[20:]
		pseudo = csum(csum(0, b[12:16]), b[16:20])
	case len(b) >= 40 && b[0]>>4 == 6:
		if int(be.Uint16(b[4:]))+40 != len(b) || b[6] != 6 {
			return pk, fmt.Errorf("bad IPv6 header")
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		tcp = b[40:]
		pseudo = csum(csum(0, b[8:24]), b[24:40])
	default:
		return pk, fmt.Errorf("not IPv4 or IPv6")
	}
	if len(tcp) < 20 {
		return pk, fmt.Errorf("short TCP header")
	}
	hl := int(tcp[12]>>4) * 4
	if hl < 20 || hl > len(tcp) {
		return pk, fmt.Errorf("TCP header length %d", hl)
	}
	if csum(pseudo+6+uint64(len(tcp)), tcp) != 0xffff {
		return pk, fmt.Errorf("bad TCP checksum")
	}
	pk.src = netip.AddrPortFrom(src, be.Uint16(tcp))
	pk.dst = netip.AddrPortFrom(dst, be.Uint16(tcp[2:]))
	pk.seq, pk.ack, pk.flags = be.Uint32(tcp[4:]), be.Uint32(tcp[8:]), tcp[13]
	pk.payload = tcp[hl:]
	return pk, nil
}

func csum(s uint64, b []byte) uint64 {
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return s
}

// tcpFlow is one flow's packets, checked as TCP: a handshake first, every
// segment where the sequence numbers say, acks only of what was seen.
type tcpFlow struct {
	client, server netip.AddrPort
	sent, recvd    []byte // payload in each direction, in sequence order
	end            string // "FIN", "RST" or "" (still open)
	packets        []packet
}

// flows splits packets into flows and checks each.
func flows(pks []packet) (map[netip.AddrPort]*tcpFlow, error) {
	out := map[netip.AddrPort]*tcpFlow{}
	type state struct {
		next [2]uint32
		seen [2]bool
	}
	st := map[netip.AddrPort]*state{}
	for i, pk := range pks {
		var f *tcpFlow
		side := 0
		if pk.has(fSYN) && !pk.has(fACK) {
			if out[pk.src] != nil {
				return nil, fmt.Errorf("packet %d: second SYN from %v", i+1, pk.src)
			}
			f = &tcpFlow{client: pk.src, server: pk.dst}
			out[pk.src] = f
			st[pk.src] = &state{}
		} else if f = out[pk.src]; f != nil && f.server == pk.dst {
			side = 0
		} else if f = out[pk.dst]; f != nil && f.server == pk.src {
			side = 1
		} else {
			return nil, fmt.Errorf("packet %d: %v -> %v belongs to no flow", i+1, pk.src, pk.dst)
		}
		s := st[f.client]
		f.packets = append(f.packets, pk)
		if f.end == "RST" {
			return nil, fmt.Errorf("packet %d: after the RST", i+1)
		}
		if pk.has(fSYN) {
			if s.seen[side] {
				return nil, fmt.Errorf("packet %d: repeated SYN", i+1)
			}
			s.seen[side] = true
			s.next[side] = pk.seq + 1
		} else {
			if !s.seen[0] || !s.seen[1] {
				return nil, fmt.Errorf("packet %d: data before the handshake", i+1)
			}
			if pk.seq != s.next[side] {
				return nil, fmt.Errorf("packet %d: seq %d, want %d", i+1, pk.seq, s.next[side])
			}
			s.next[side] += uint32(len(pk.payload))
			if side == 0 {
				f.sent = append(f.sent, pk.payload...)
			} else {
				f.recvd = append(f.recvd, pk.payload...)
			}
			if pk.has(fFIN) {
				s.next[side]++
				if f.end == "" {
					f.end = "FIN"
				}
			}
			if pk.has(fRST) {
				f.end = "RST"
			}
		}
		if pk.has(fACK) && s.seen[1-side] && int32(pk.ack-s.next[1-side]) > 0 {
			return nil, fmt.Errorf("packet %d: acks %d, beyond the %d seen", i+1, pk.ack, s.next[1-side])
		}
	}
	return out, nil
}
