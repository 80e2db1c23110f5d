// Command idmirror-demo runs idmirror's main job end to end on the local
// stack (make demo starts it): a user pool with admins and operators, sign-ups
// mirrored by the post-confirmation trigger, role claims in the tokens of
// real sign-ins, drift repaired by sync, then the pool deleted and restored
// from the mirror with the idmirror CLI.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/idmirror/idmirror"
	"github.com/idmirror/idmirror/cognito"
	"github.com/idmirror/idmirror/mirror"
)

const password = "Demo-passw0rd!"

type person struct {
	name, email string
	groups      []string
}

var people = []person{
	{"alice", "alice@example.com", []string{"admins"}},
	{"bob", "bob@example.com", []string{"operators"}},
	{"carol", "carol@example.com", nil},
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(ctx context.Context) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	table := os.Getenv("MIRROR_TABLE")
	if table == "" {
		return errors.New("MIRROR_TABLE is not set (run through make demo)")
	}
	db := mirror.NewClient(cfg)
	if err := mirror.CreateTable(ctx, db, table); err != nil && !errors.Is(err, idmirror.ErrExists) {
		return err
	}
	store := mirror.New(db, table, nil)
	c := cognito.NewClient(cfg)

	step("Create a user pool with groups admins and operators (the identity stack does this in AWS)")
	pool, clientID, err := createPool(ctx, c, false) // the demo's people sign themselves up
	if err != nil {
		return err
	}
	fmt.Printf("pool %s, app client %s, mirror table %s\n", pool, clientID, table)

	step("Sign up and confirm three people; the post-confirmation trigger mirrors each")
	for _, p := range people {
		if _, err := c.SignUp(ctx, &cip.SignUpInput{ClientId: &clientID, Username: aws.String(p.name), Password: aws.String(password),
			UserAttributes: []types.AttributeType{{Name: aws.String("email"), Value: aws.String(p.email)},
				{Name: aws.String("custom:tenant"), Value: aws.String("acme")}}}); err != nil {
			return fmt.Errorf("sign up %s: %w", p.name, err)
		}
		if _, err := c.AdminConfirmSignUp(ctx, &cip.AdminConfirmSignUpInput{UserPoolId: &pool, Username: aws.String(p.name)}); err != nil {
			return fmt.Errorf("confirm %s: %w", p.name, err)
		}
		for _, g := range p.groups {
			if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pool, Username: aws.String(p.name), GroupName: aws.String(g)}); err != nil {
				return err
			}
		}
		fmt.Printf("signed up %-6s groups %v\n", p.name, p.groups)
	}

	step("The mirror now holds them (idmirror audit reads the same items)")
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tSUB\tEMAIL\tSTATUS\tSOURCE\tVERSION\tOBSERVED")
	for _, p := range people {
		recs, err := store.FindByUsername(ctx, pool, p.name)
		if err != nil {
			return err
		}
		if len(recs) != 1 {
			return fmt.Errorf("%s is not in the mirror", p.name)
		}
		r := recs[0]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Username, r.Sub, r.Email(), r.Status, r.Source, r.Version, r.ObservedAt.Format(time.RFC3339))
	}
	tw.Flush()

	step("Sign in each; the pre-token trigger adds role claims from their groups")
	tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tcognito:groups\trole\troles\tKIND")
	for _, p := range people {
		out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &clientID, AuthFlow: types.AuthFlowTypeUserPasswordAuth,
			AuthParameters: map[string]string{"USERNAME": p.name, "PASSWORD": password}})
		if err != nil {
			return fmt.Errorf("sign in %s: %w", p.name, err)
		}
		claims, err := jwtClaims(aws.ToString(out.AuthenticationResult.IdToken))
		if err != nil {
			return err
		}
		kind := "outsider"
		switch claims["role"] {
		case "admin":
			kind = "admin: every function"
		case "operator":
			kind = "operator: all but personal data"
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%s\n", p.name, claims["cognito:groups"], orDash(claims["role"]), orDash(claims["roles"]), kind)
	}
	tw.Flush()

	cli := os.Getenv("IDMIRROR_BIN")
	if cli == "" {
		return errors.New("IDMIRROR_BIN is not set (run through make demo)")
	}
	step("Changes no trigger sees: an admin disables carol and makes bob an admin, straight in Cognito")
	if _, err := c.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: &pool, Username: aws.String("carol")}); err != nil {
		return err
	}
	if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pool, Username: aws.String("bob"), GroupName: aws.String("admins")}); err != nil {
		return err
	}
	if err := runCLI(cli, 3, "sync", "--table", table, "--pool", pool); err != nil {
		return err
	}
	step("Repair the drift (the scheduled reconcile Lambda does the same)")
	if err := runCLI(cli, 0, "sync", "--table", table, "--pool", pool, "--repair"); err != nil {
		return err
	}

	step("Incident: the user pool is deleted")
	if _, err := c.DeleteUserPool(ctx, &cip.DeleteUserPoolInput{UserPoolId: &pool}); err != nil {
		return err
	}
	if _, err := c.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: &pool}); err == nil {
		return errors.New("the pool is still there")
	}
	fmt.Printf("pool %s is gone; the mirror still holds its identities\n", pool)

	step("Ops redeploy the identity stack: a new, empty pool")
	newPool, newClient, err := createPool(ctx, c, true) // closed until the restore is done (the runbook's rule)
	if err != nil {
		return err
	}
	// Groups come back with the restore; the fresh stack's own groups are already there.
	fmt.Printf("new pool %s\n", newPool)

	step("Restore: first the plan, then the real run")
	if err := runCLI(cli, 0, "restore", "--table", table, "--source-pool", pool, "--target-pool", newPool, "--dry-run"); err != nil {
		return err
	}
	if err := runCLI(cli, 0, "restore", "--table", table, "--source-pool", pool, "--target-pool", newPool,
		"--password-mode", "invite", "--legacy-sub-attribute", "custom:legacy_sub", "--yes"); err != nil {
		return err
	}

	step("The restored pool: new subs, linked to the old ones in the mirror")
	tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tOLD SUB (origin)\tNEW SUB\tENABLED\tGROUPS\tSTATUS")
	for _, p := range people {
		recs, err := store.FindByUsername(ctx, newPool, p.name)
		if err != nil || len(recs) != 1 {
			return fmt.Errorf("%s is not in the mirror of the new pool: %v", p.name, err)
		}
		r := recs[0]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%v\t%s\n", r.Username, strings.TrimPrefix(r.Origin, pool+"/"), r.Sub, r.Enabled, r.Groups, r.Status)
	}
	tw.Flush()

	step("bob signs in to the restored pool (after ops set his password) and is an admin again")
	if _, err := c.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: &newPool, Username: aws.String("bob"), Password: aws.String(password), Permanent: true}); err != nil {
		return err
	}
	out, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &newClient, AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "bob", "PASSWORD": password}})
	if err != nil {
		return fmt.Errorf("bob signs in: %w", err)
	}
	claims, err := jwtClaims(aws.ToString(out.AuthenticationResult.IdToken))
	if err != nil {
		return err
	}
	fmt.Printf("bob: role=%v roles=%v custom:legacy_sub=%v\n", claims["role"], claims["roles"], claims["custom:legacy_sub"])
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &newClient, AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": "carol", "PASSWORD": password}})
	fmt.Printf("carol (disabled before the incident) signing in: %v\n", err)

	fmt.Println("\nDone. The stack keeps no state: the next make demo starts afresh.")
	return nil
}

// runCLI runs the idmirror CLI as ops would, showing the command.
func runCLI(bin string, wantCode int, args ...string) error {
	fmt.Printf("$ idmirror %s\n", strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		return err
	}
	if code != wantCode {
		return fmt.Errorf("idmirror %s: exit code %d, want %d", args[0], code, wantCode)
	}
	return nil
}

func createPool(ctx context.Context, c *cip.Client, adminOnly bool) (string, string, error) {
	out, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName: aws.String("idmirror-demo"),
		// Restore refuses a target anyone can sign up to: a stranger could
		// take a restored user's name first.
		AdminCreateUserConfig: &types.AdminCreateUserConfigType{AllowAdminCreateUserOnly: adminOnly},
		Schema: []types.SchemaAttributeType{
			{Name: aws.String("tenant"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
			{Name: aws.String("legacy_sub"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(true)},
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("create pool: %w", err)
	}
	pool := aws.ToString(out.UserPool.Id)
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: &pool, ClientName: aws.String("backoffice"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth}})
	if err != nil {
		return "", "", fmt.Errorf("create app client: %w", err)
	}
	for i, g := range []string{"admins", "operators"} {
		if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: &pool, GroupName: aws.String(g), Precedence: aws.Int32(int32(i + 1))}); err != nil {
			return "", "", fmt.Errorf("create group %s: %w", g, err)
		}
	}
	return pool, aws.ToString(cl.UserPoolClient.ClientId), nil
}

func jwtClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
