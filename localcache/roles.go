package localcache

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/duomail/duomail/client"
)

// Roles implements client.RoleStore.
func (c *Cache) Roles(ctx context.Context) (map[string]client.RoleFolder, bool, error) {
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM roles_known`).Scan(&n); err != nil {
		return nil, false, fmt.Errorf("read folder roles: %w", err)
	}
	if n == 0 {
		return nil, false, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT role, folder, by_name FROM folder_roles`)
	if err != nil {
		return nil, false, fmt.Errorf("read folder roles: %w", err)
	}
	defer rows.Close()
	roles := map[string]client.RoleFolder{}
	for rows.Next() {
		var (
			role string
			rf   client.RoleFolder
		)
		if err := rows.Scan(&role, &rf.Folder, &rf.ByName); err != nil {
			return nil, false, fmt.Errorf("read folder roles: %w", err)
		}
		roles[role] = rf
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read folder roles: %w", err)
	}
	return roles, true, nil
}

// SetRoles implements client.RoleStore. A nil map forgets the roles, so
// they are looked up again.
func (c *Cache) SetRoles(ctx context.Context, roles map[string]client.RoleFolder) error {
	if c.readOnly != nil {
		return nil // a read-only cache just does not remember
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM folder_roles; DELETE FROM roles_known`); err != nil {
			return err
		}
		if roles == nil {
			return nil
		}
		for role, rf := range roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO folder_roles (role, folder, by_name) VALUES (?, ?, ?)`, role, rf.Folder, rf.ByName); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles_known (looked_up) VALUES (1)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("record folder roles: %w", err)
	}
	return nil
}
