// Command authorizer is the app stack's TOKEN Lambda authorizer
// (AuthMode=LambdaAuthorizer in deploy/aws/app.yaml; see authz.Authorizer):
// it verifies the Cognito token in the Authorization header and answers an
// IAM policy allowing exactly the routes the token's role may call.
//
// Environment:
//   - ISSUER — the pool's issuer, https://cognito-idp.<region>.amazonaws.com/<poolId>
//   - APP_CLIENT_ID — the app client whose tokens are accepted
//   - TOKEN_USE — "id" (pools on pre-token V1_0: roles only in ID tokens) or
//     "access" (V2_0: roles in access tokens)
package main

import (
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"

	"github.com/idmirror/idmirror/authz"
	"github.com/idmirror/idmirror/internal/lambdamain"
)

func main() {
	log := lambdamain.Logger("authorizer")
	v, err := authz.NewVerifier(authz.VerifierOptions{
		Issuer:     lambdamain.Require(log, "ISSUER", "the user pool's issuer URL"),
		ClientID:   lambdamain.Require(log, "APP_CLIENT_ID", "the app client id"),
		TokenUse:   lambdamain.Require(log, "TOKEN_USE", `"id" or "access"`),
		HTTPClient: &http.Client{Timeout: 3 * time.Second},
		Logger:     log,
	})
	if err != nil {
		lambdamain.Fail(log, "authorizer settings", err)
	}
	log.Info("ready", zap.String("token_use", lambdamain.Require(log, "TOKEN_USE", "")))
	lambda.Start(authz.NewAuthorizer(v, log).Handle)
}
