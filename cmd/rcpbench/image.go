package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strconv"
)

// benchImage is a PNG of about n bytes: noise pixels, which PNG cannot
// compress, so the file is close to 3 bytes per pixel (opaque: RGB).
func benchImage(n int) ([]byte, error) {
	side := max(1, int(math.Sqrt(float64(n)/3)))
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	rng := rand.New(rand.NewPCG(1, 2))
	for y := range side {
		for x := range side {
			v := rng.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&b, img); err != nil {
		return nil, fmt.Errorf("bench image: %w", err)
	}
	return b.Bytes(), nil
}

// imageBodies makes the SEND bodies of --image-bytes runs: the seed
// clients' base64 form, with the message id and send time in the name.
type imageBodies struct {
	prefix []byte // up to the name's value
	raw    []byte // the PNG itself, for uploads
	size   int
}

func newImageBodies(n int) (*imageBodies, error) {
	img, err := benchImage(n)
	if err != nil {
		return nil, err
	}
	prefix := fmt.Appendf(nil, `{"type":"image","image":{"data":"%s","contentType":"image/png","name":"rb `,
		base64.StdEncoding.EncodeToString(img))
	return &imageBodies{prefix: prefix, raw: img, size: len(img)}, nil
}

func (ib *imageBodies) body(id, sentNs int64) []byte {
	b := make([]byte, 0, len(ib.prefix)+48)
	b = append(b, ib.prefix...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, sentNs, 10)
	return append(b, ` x.png"}}`...)
}
