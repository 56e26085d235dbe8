// Package media owns the images of messages: decoding and checking the
// bytes clients send (Inspect: the real type from the magic number,
// dimensions from the header, size and decompression-bomb limits), the
// image message body (ParseImageSend: the SEND form with base64 data or the
// key of a direct upload), storing the checked bytes in the blob store
// before a message refers to them (Service.PrepareSend, Service.Upload, the
// blobs table with its one-time claims), their delivery to clients
// (Service.Deliverable: URLs, and inline data for old clients) and their
// deletion by the rooms' media retention (Service.ExpireBlobs).
//
// Only PNG, JPEG, GIF and WebP are accepted. Nothing here trusts a
// client's declared content type or file name: Inspect looks at the bytes.
package media
