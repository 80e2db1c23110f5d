package main

import (
	"fmt"
	"net/http"
)

// The local stack has no STS. The router answers GetCallerIdentity (STS's
// query protocol: a form POST to /) with a fixed local identity, so that
// `idmirror restore` records an operator there as it does against AWS; the
// stack's env points AWS_ENDPOINT_URL_STS here. Every other STS action is
// refused.
const (
	LocalOperatorARN     = "arn:aws:iam::000000000000:user/local-operator"
	localOperatorAccount = "000000000000"
	localOperatorUserID  = "AIDALOCALOPERATOR"
)

func serveSTS(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil || req.PostForm.Get("Action") != "GetCallerIdentity" {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>the local STS stub answers GetCallerIdentity only</Message></Error><RequestId>local</RequestId></ErrorResponse>`)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>%s</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
		LocalOperatorARN, localOperatorUserID, localOperatorAccount)
}
