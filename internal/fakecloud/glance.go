package fakecloud

import (
	"io"
	"net/http"
)

// glanceRoutes registers Glance's API (image v2).
func (c *Cloud) glanceRoutes() {
	// Glance Zed's version document as recorded (v2.15 CURRENT).
	c.versionRoutes("/image", &c.imageVers, http.StatusMultipleChoices)
	c.handle("GET /image/v2/images", c.listImages)
	c.handle("GET /image/v2/images/{id}", c.getImage)
}

// listImages answers GET /v2/images.
func (c *Cloud) listImages(w http.ResponseWriter, r *http.Request, _ []byte) {
	writeJSON(w, 200, obj{"images": filter(c.images, r.URL.Query()), "schema": "/v2/schemas/images", "first": "/v2/images"})
}

// getImage answers GET /v2/images/{id}, with Glance's plain-text 404.
func (c *Cloud) getImage(w http.ResponseWriter, r *http.Request, _ []byte) {
	if _, im := find(c.images, "id", r.PathValue("id")); im != nil {
		writeJSON(w, 200, im)
		return
	}
	w.WriteHeader(404)
	io.WriteString(w, "404 Not Found\n\nThe resource could not be found.\n\n   ")
}
