-- SPDX-License-Identifier: MIT
-- prosody.cfg.lua: what Prosody 0.12 needs for ferry, the XMPP gateway to
-- WhatsApp. Paste the pieces into /etc/prosody/prosody.cfg.lua (or put this
-- file in /etc/prosody/conf.d/ after editing it), replace the placeholders,
-- then run "prosodyctl check config" and "prosodyctl reload":
--
--   example.org             your users' domain (a VirtualHost you have)
--   whatsapp.example.org    the gateway's domain (ferry.conf component.jid)
--   upload.example.org      the file upload service (ferry.conf
--                           media.upload_service)
--   "a long random secret"  ferry.conf component.secret: openssl rand -hex 32
--
-- and in ferry.conf: [component] host = 127.0.0.1, port = 5347;
-- [gateway] allowed_domains = example.org.
--
-- Keep mod_offline enabled (it is by default): ferry sends WhatsApp messages
-- to the user's bare JID and relies on the server to keep them while the
-- user is offline.
--
-- ferry's end-to-end tests run Prosody with this very file, with the
-- placeholders above, the port 5347 and the upload size limit replaced
-- (tests/e2e/harness/serverconf.py): keep their spelling.

------------------------------------------------------------------------
-- Global settings: the port ferry connects to, on loopback only (unless
-- ferry runs on another machine).
------------------------------------------------------------------------

component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

------------------------------------------------------------------------
-- The users' host. If it already exists, add these lines to it.
------------------------------------------------------------------------

VirtualHost "example.org"
    -- XEP-0356 (optional, recommended): ferry puts WhatsApp contacts on
    -- the user's roster itself, in a group named after gateway.name,
    -- instead of asking the user to accept a subscription request for
    -- each. mod_privilege is in the Debian package prosody-modules
    -- (apt-get install prosody-modules); Prosody 0.12 offers it as
    -- urn:xmpp:privilege:2. Without it ferry falls back to subscriptions:
    -- delete these lines and the ones on the Component below.
    -- If this host already has a modules_enabled list, add "privilege" to it.
    modules_enabled = { "privilege" }
    privileged_entities = {
        ["whatsapp.example.org"] = {
            roster = "both";      -- read and edit the users' rosters
            message = "outgoing"; -- send messages on behalf of the users
            presence = "roster";  -- see the users' presence
            -- publish XEP-0402 bookmarks of the users' WhatsApp groups
            -- (rooms on the gateway, autojoin) to their PEP; without it
            -- ferry sends an XEP-0249 invitation for each group instead
            iq = { ["http://jabber.org/protocol/pubsub"] = "set" };
        };
    }

    -- XEP-0363 (optional): clients find the upload service here.
    disco_items = { { "upload.example.org", "HTTP File Upload" } }

------------------------------------------------------------------------
-- The gateway: ferry connects here as an external component (XEP-0114).
------------------------------------------------------------------------

Component "whatsapp.example.org"
    component_secret = "a long random secret"
    -- XEP-0356: mod_privilege must also be loaded on the component.
    modules_enabled = { "privilege" }

------------------------------------------------------------------------
-- XEP-0363 (optional): HTTP file upload, built into Prosody 0.12, so that
-- pictures and files from WhatsApp show inline in the users' clients. Set
-- ferry.conf media.upload_service = upload.example.org; without it ferry
-- serves the files itself under http.public_url/media/.
--
-- The upload URLs must be reachable by the users' clients: Prosody serves
-- them on https_ports (5281 by default, with a certificate for
-- upload.example.org), or set http_external_url (global) when a reverse
-- proxy is in front.
------------------------------------------------------------------------

Component "upload.example.org" "http_file_share"
    -- ferry.conf media.max_size should not be larger.
    http_file_share_size_limit = 100 * 1024 * 1024
    -- Leave http_file_share_access unset: then any JID of a host this
    -- Prosody serves may upload, ferry's whatsapp.example.org included.
    -- A list of domains there would lock ferry out (forbidden).
