// WssKerberosBST writes SOAP 1.2 requests as a WSS4J client sends them to
// an STS with Kerberos: a Security header holding a BinarySecurityToken
// made by Apache WSS4J's KerberosSecurity and a Timestamp, an Issue RST in
// the Body, and a signature keyed with the token's secret key the way
// WSS4J's own Kerberos tests make it (WSSecSignature with setSecretKey and
// a custom token reference). It logs in with JAAS (Krb5LoginModule, user
// name and password from the command line) and asks Java GSS-API for a
// context with the host-based service name, once per message.
//
// Each variant <name> is written to <outdir>/<name>.xml, with the base64
// key WSS4J signed with (KerberosSecurity.getSecretKey) in
// <outdir>/<name>.key, so the test can check that the STS derives it:
//
//   hmac-sha256  hmac-sha256 over Body and Timestamp, KeyInfo a Reference
//                to the token (CUSTOM_SYMM_SIGNING, GSS_Kerberosv5_AP_REQ)
//   hmac-sha1    the same with hmac-sha1
//   keyid        hmac-sha256, KeyInfo a Kerberosv5APREQSHA1 KeyIdentifier
//                (CUSTOM_KEY_IDENTIFIER)
//   body-only    hmac-sha256 over the Body only; the Timestamp is unsigned
//
//   java -cp wss4j.jar:xmlsec.jar:slf4j-api.jar:commons-logging.jar WssKerberosBST.java \
//       <krb5.conf> <user@REALM> <password> <service@host> <outdir>
//
// The password is read from the command line because the program runs only
// against a throw-away test KDC.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.token.KerberosSecurity;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public final class WssKerberosBST {
    private static final String SOAP12 = "http://www.w3.org/2003/05/soap-envelope";
    private static final String TRUST = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
    private static final String LOGIN = "wss4jKerberosClient";

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: WssKerberosBST <krb5.conf> <user@REALM> <password> <service@host> <outdir>");
            System.exit(2);
        }
        System.setProperty("java.security.krb5.conf", args[0]);
        System.setProperty("javax.security.auth.useSubjectCredsOnly", "true");
        Configuration.setConfiguration(new PasswordLogin());
        WSSConfig.init();
        Credentials creds = new Credentials(args[1], args[2]);
        Path out = Path.of(args[4]);

        write(out, "hmac-sha256", creds, args[3], WSConstants.HMAC_SHA256, false, true);
        write(out, "hmac-sha1", creds, args[3], WSConstants.HMAC_SHA1, false, true);
        write(out, "keyid", creds, args[3], WSConstants.HMAC_SHA256, true, true);
        write(out, "body-only", creds, args[3], WSConstants.HMAC_SHA256, false, false);
    }

    /** Builds, signs and writes one request with a fresh service ticket. */
    private static void write(Path dir, String name, Credentials creds, String service,
            String hmac, boolean keyIdentifier, boolean signTimestamp) throws Exception {
        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        Document doc = dbf.newDocumentBuilder().newDocument();
        // Santuario canonicalises the DOM's namespace declarations, not
        // the element names' namespaces, so they are declared as a parser
        // would have recorded them.
        Element env = doc.createElementNS(SOAP12, "soap:Envelope");
        env.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:soap", SOAP12);
        env.appendChild(doc.createElementNS(SOAP12, "soap:Header"));
        Element body = doc.createElementNS(SOAP12, "soap:Body");
        Element rst = doc.createElementNS(TRUST, "wst:RequestSecurityToken");
        rst.setAttributeNS(XMLConstants.XMLNS_ATTRIBUTE_NS_URI, "xmlns:wst", TRUST);
        Element requestType = doc.createElementNS(TRUST, "wst:RequestType");
        requestType.setTextContent(TRUST + "/Issue");
        rst.appendChild(requestType);
        body.appendChild(rst);
        env.appendChild(body);
        doc.appendChild(env);

        WSSecHeader header = new WSSecHeader();
        header.insertSecurityHeader(doc);
        KerberosSecurity bst = new KerberosSecurity(doc);
        bst.retrieveServiceTicket(LOGIN, creds, service);
        bst.addWSUNamespace();
        bst.setID("BST-kerberos-1");
        header.getSecurityHeader().appendChild(bst.getElement());

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(doc, header);

        WSSecSignature sign = new WSSecSignature();
        sign.setSignatureAlgorithm(hmac);
        sign.setDigestAlgo(WSConstants.SHA256);
        byte[] key = bst.getSecretKey().getEncoded();
        sign.setSecretKey(key);
        if (keyIdentifier) {
            sign.setKeyIdentifierType(WSConstants.CUSTOM_KEY_IDENTIFIER);
            sign.setCustomTokenValueType(WSConstants.WSS_KRB_KI_VALUE_TYPE);
            sign.setCustomTokenId(Base64.getEncoder().encodeToString(WSSecurityUtil.generateDigest(bst.getToken())));
        } else {
            sign.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING);
            sign.setCustomTokenValueType(WSConstants.WSS_GSS_KRB_V5_AP_REQ);
            sign.setCustomTokenId(bst.getID());
        }
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart("Body", SOAP12, ""));
        if (signTimestamp) {
            parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        }
        sign.setParts(parts);
        sign.build(doc, null, header);

        TransformerFactory.newInstance().newTransformer()
            .transform(new DOMSource(doc), new StreamResult(dir.resolve(name + ".xml").toFile()));
        Files.writeString(dir.resolve(name + ".key"), Base64.getEncoder().encodeToString(key));
    }

    /** Answers the login module's questions with the given user and password. */
    private static final class Credentials implements CallbackHandler {
        private final String user;
        private final char[] password;

        Credentials(String user, String password) {
            this.user = user;
            this.password = password.toCharArray();
        }

        @Override
        public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
            for (Callback c : callbacks) {
                if (c instanceof NameCallback) {
                    ((NameCallback) c).setName(user);
                } else if (c instanceof PasswordCallback) {
                    ((PasswordCallback) c).setPassword(password);
                } else {
                    throw new UnsupportedCallbackException(c);
                }
            }
        }
    }

    /** A JAAS configuration with one Kerberos password login and no ticket cache. */
    private static final class PasswordLogin extends Configuration {
        @Override
        public AppConfigurationEntry[] getAppConfigurationEntry(String name) {
            Map<String, String> options = new HashMap<>();
            options.put("useTicketCache", "false");
            options.put("storeKey", "false");
            options.put("refreshKrb5Config", "true");
            return new AppConfigurationEntry[] {
                new AppConfigurationEntry("com.sun.security.auth.module.Krb5LoginModule",
                    AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, options)
            };
        }
    }
}
