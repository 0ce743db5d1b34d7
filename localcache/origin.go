package localcache

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/duomail/duomail/client"
)

// SetOrigins implements client.Cache.
func (c *Cache) SetOrigins(ctx context.Context, folder string, origins map[string]client.Origin) error {
	if len(origins) == 0 {
		return nil
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, ok, err := c.lookupFolder(ctx, tx, folder)
		if err != nil || !ok {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE messages SET server_id = ?, server_size = ?, header_digest = ?, on_server = 1 WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, o := range origins {
			if _, err := stmt.ExecContext(ctx, o.ServerID, o.ServerSize, o.HeaderDigest, f.id, int64(f.uidValidity), id); err != nil {
				return fmt.Errorf("id %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record origin of %d messages in %s: %w", len(origins), folder, err)
	}
	return nil
}
