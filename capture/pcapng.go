package capture

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// pcapng blocks, as the pcapng specification (draft-ietf-opsawg-pcapng)
// defines them; everything is little-endian, as the Section Header's
// byte-order magic says.
const (
	blockSHB = 0x0A0D0D0A // Section Header Block
	blockIDB = 0x00000001 // Interface Description Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockDSB = 0x0000000A // Decryption Secrets Block

	secretsTLSKeyLog = 0x544c534b // "TLSK": NSS key log lines

	linkTypeRaw = 101 // LINKTYPE_RAW: each packet starts with its IPv4 or IPv6 header

	optEnd      = 0
	optShbAppl  = 4 // shb_userappl
	optIfName   = 2 // if_name
	optIfTsres  = 9 // if_tsresol
	protoTCP    = 6
	ipv4Header  = 20
	ipv6Header  = 40
	tcpHeader   = 20
	synOptions  = 8 // MSS (4), NOP (1), window scale (3)
	windowShift = 14

	// maxSegment is the most payload one synthesised segment carries: an
	// IPv4 packet's total length (and an IPv6 payload's length) must fit
	// in 16 bits.
	maxSegment = 65535 - ipv4Header - tcpHeader
)

var le = binary.LittleEndian

func pad4(n int) int { return (n + 3) &^ 3 }

// appendBlock appends a block of type typ with body, padded, and both
// length fields.
func appendBlock(b []byte, typ uint32, body ...[]byte) []byte {
	n := 0
	for _, p := range body {
		n += len(p)
	}
	total := 12 + pad4(n)
	b = le.AppendUint32(b, typ)
	b = le.AppendUint32(b, uint32(total))
	for _, p := range body {
		b = append(b, p...)
	}
	b = append(b, make([]byte, pad4(n)-n)...)
	return le.AppendUint32(b, uint32(total))
}

// appendOption appends one option (code, length, value, padding).
func appendOption(b []byte, code uint16, v []byte) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v))-len(v))...)
}

// header returns the Section Header Block and the one Interface
// Description Block (raw IP, microsecond timestamps) every capture starts
// with.
func header() []byte {
	var shb []byte
	shb = le.AppendUint32(shb, 0x1A2B3C4D) // byte-order magic
	shb = le.AppendUint16(shb, 1)          // major version
	shb = le.AppendUint16(shb, 0)          // minor version
	shb = le.AppendUint64(shb, ^uint64(0)) // section length: not given
	shb = appendOption(shb, optShbAppl, []byte("outbound (github.com/outboundhq/outbound/capture)"))
	shb = appendOption(shb, optEnd, nil)
	var idb []byte
	idb = le.AppendUint16(idb, linkTypeRaw)
	idb = le.AppendUint16(idb, 0) // reserved
	idb = le.AppendUint32(idb, 0) // snap length: no limit
	idb = appendOption(idb, optIfName, []byte("outbound"))
	idb = appendOption(idb, optIfTsres, []byte{6})
	idb = appendOption(idb, optEnd, nil)
	b := appendBlock(nil, blockSHB, shb)
	return appendBlock(b, blockIDB, idb)
}

// appendDSB appends a Decryption Secrets Block holding TLS key log lines.
func appendDSB(b, keylog []byte) []byte {
	var h [8]byte
	le.PutUint32(h[0:], secretsTLSKeyLog)
	le.PutUint32(h[4:], uint32(len(keylog)))
	return appendBlock(b, blockDSB, h[:], keylog)
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// segment is one synthesised TCP segment.
type segment struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	ipID     uint16
	payload  []byte
	t        time.Time
}

// appendEPB appends an Enhanced Packet Block carrying seg as a raw IP
// packet: its IPv4 or IPv6 header, its TCP header and its payload, with
// correct lengths and checksums.
func appendEPB(b []byte, seg *segment) []byte {
	opts := 0
	if seg.flags&tcpSYN != 0 {
		opts = synOptions
	}
	v4 := seg.src.Addr().Is4()
	ipLen := ipv6Header
	if v4 {
		ipLen = ipv4Header
	}
	tcpLen := tcpHeader + opts
	pktLen := ipLen + tcpLen + len(seg.payload)

	// Enhanced Packet Block header.
	total := 12 + 20 + pad4(pktLen)
	b = le.AppendUint32(b, blockEPB)
	b = le.AppendUint32(b, uint32(total))
	b = le.AppendUint32(b, 0) // interface 0
	us := uint64(seg.t.UnixMicro())
	b = le.AppendUint32(b, uint32(us>>32))
	b = le.AppendUint32(b, uint32(us))
	b = le.AppendUint32(b, uint32(pktLen)) // captured
	b = le.AppendUint32(b, uint32(pktLen)) // on the wire

	// IP header.
	src, dst := seg.src.Addr().AsSlice(), seg.dst.Addr().AsSlice()
	ip := len(b)
	if v4 {
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(pktLen))
		b = binary.BigEndian.AppendUint16(b, seg.ipID)
		b = append(b, 0x40, 0, 64, protoTCP, 0, 0) // don't fragment, TTL 64, checksum below
		b = append(b, src...)
		b = append(b, dst...)
		binary.BigEndian.PutUint16(b[ip+10:], ^fold(sum(0, b[ip:ip+ipv4Header])))
	} else {
		b = append(b, 0x60, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(tcpLen+len(seg.payload)))
		b = append(b, protoTCP, 64)
		b = append(b, src...)
		b = append(b, dst...)
	}

	// TCP header.
	tcp := len(b)
	b = binary.BigEndian.AppendUint16(b, seg.src.Port())
	b = binary.BigEndian.AppendUint16(b, seg.dst.Port())
	b = binary.BigEndian.AppendUint32(b, seg.seq)
	b = binary.BigEndian.AppendUint32(b, seg.ack)
	b = append(b, uint8(tcpLen/4)<<4, seg.flags)
	b = binary.BigEndian.AppendUint16(b, 0xffff) // window (scaled by 2^14 after the handshake)
	b = append(b, 0, 0, 0, 0)                    // checksum below, urgent pointer
	if opts != 0 {
		b = append(b, 2, 4) // MSS
		b = binary.BigEndian.AppendUint16(b, maxSegment)
		b = append(b, 1, 3, 3, windowShift) // NOP, window scale
	}
	b = append(b, seg.payload...)

	// TCP checksum over the pseudo-header, the header and the payload.
	s := sum(0, src)
	s = sum(s, dst)
	s += protoTCP + uint64(tcpLen+len(seg.payload))
	s = sum(s, b[tcp:])
	binary.BigEndian.PutUint16(b[tcp+16:], ^fold(s))

	b = append(b, make([]byte, pad4(pktLen)-pktLen)...)
	return le.AppendUint32(b, uint32(total))
}

// sum adds b to the one's-complement sum s as big-endian 16-bit words.
func sum(s uint64, b []byte) uint64 {
	for len(b) >= 8 {
		w := binary.BigEndian.Uint64(b)
		s += w >> 48
		s += (w >> 32) & 0xffff
		s += (w >> 16) & 0xffff
		s += w & 0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

func fold(s uint64) uint16 {
	for s > 0xffff {
		s = (s >> 16) + (s & 0xffff)
	}
	return uint16(s)
}
