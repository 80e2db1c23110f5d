package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// groupConfiguration is what Cognito puts in a pre-token event.
type groupConfiguration struct {
	GroupsToOverride   []string `json:"groupsToOverride"`
	IAMRolesToOverride []string `json:"iamRolesToOverride"`
	PreferredRole      *string  `json:"preferredRole"`
}

// fillGroups gives a pre-token event the groupConfiguration Cognito would
// send (cognito-local sends it empty): the user's groups by precedence, their
// role ARNs, and the role of the group with the best precedence.
func (r *router) fillGroups(ctx context.Context, body []byte) ([]byte, error) {
	var ev map[string]json.RawMessage
	if json.Unmarshal(body, &ev) != nil {
		return body, nil // not an event we understand: the function decides
	}
	var source, pool, user string
	_ = json.Unmarshal(ev["triggerSource"], &source)
	_ = json.Unmarshal(ev["userPoolId"], &pool)
	_ = json.Unmarshal(ev["userName"], &user)
	if !strings.HasPrefix(source, "TokenGeneration_") || source == "TokenGeneration_ClientCredentials" || pool == "" || user == "" {
		return body, nil
	}
	var req map[string]json.RawMessage
	if json.Unmarshal(ev["request"], &req) != nil {
		return body, nil
	}
	var gc groupConfiguration
	_ = json.Unmarshal(req["groupConfiguration"], &gc)
	if len(gc.GroupsToOverride) > 0 {
		return body, nil
	}
	groups, err := r.groupsOf(ctx, pool, user)
	if err != nil {
		return nil, err
	}
	gc = groupConfiguration{GroupsToOverride: []string{}, IAMRolesToOverride: []string{}}
	for _, g := range groups {
		gc.GroupsToOverride = append(gc.GroupsToOverride, g.GroupName)
		if g.RoleArn != "" {
			gc.IAMRolesToOverride = append(gc.IAMRolesToOverride, g.RoleArn)
			if gc.PreferredRole == nil {
				gc.PreferredRole = &g.RoleArn
			}
		}
	}
	if req["groupConfiguration"], err = json.Marshal(gc); err != nil {
		return nil, err
	}
	if ev["request"], err = json.Marshal(req); err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

type group struct {
	GroupName  string
	RoleArn    string
	Precedence *int
}

// groupsOf lists the user's groups, best precedence (lowest number) first.
func (r *router) groupsOf(ctx context.Context, pool, user string) ([]group, error) {
	in, _ := json.Marshal(map[string]string{"UserPoolId": pool, "Username": user})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cognito+"/", bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSCognitoIdentityProviderService.AdminListGroupsForUser")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("AdminListGroupsForUser: %s: %s", resp.Status, out)
	}
	var doc struct{ Groups []group }
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	sort.SliceStable(doc.Groups, func(i, j int) bool {
		pi, pj := doc.Groups[i].Precedence, doc.Groups[j].Precedence
		switch {
		case pi != nil && pj != nil && *pi != *pj:
			return *pi < *pj
		case (pi == nil) != (pj == nil):
			return pi != nil
		}
		return doc.Groups[i].GroupName < doc.Groups[j].GroupName
	})
	return doc.Groups, nil
}
