// WssSignInterop signs SOAP envelopes with Apache WSS4J's WSSecSignature as
// an independent WS-Security peer for the Go tests. It reads one command
// per line on stdin, fields separated by tabs, and answers each with a
// line "ok" or "error <text>":
//
//   sign <direct|ski|issuerserial|thumbprint> <PKCS#8 DER key> <DER cert> <in.xml> <out.xml> <part>...
//       adds a Timestamp to the Security header and signs the Body, the
//       Timestamp and each further part ({namespace}local of a header)
//       with RSA-SHA256 and SHA-256 digests, naming the certificate in
//       KeyInfo the given way.

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;

public final class WssSignInterop {
    private static final String ALIAS = "client";
    private static final char[] PASSWORD = "changeit".toCharArray();

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            try {
                if (!f[0].equals("sign")) {
                    throw new IllegalArgumentException("unknown command " + f[0]);
                }
                List<String> parts = new ArrayList<>();
                for (int i = 6; i < f.length; i++) {
                    parts.add(f[i]);
                }
                sign(f[1], f[2], f[3], f[4], f[5], parts);
                System.out.println("ok");
            } catch (Exception e) {
                System.out.println("error " + e.toString().replace('\n', ' '));
            }
        }
    }

    private static int keyIdentifierType(String name) {
        switch (name) {
            case "direct":
                return WSConstants.BST_DIRECT_REFERENCE;
            case "ski":
                return WSConstants.SKI_KEY_IDENTIFIER;
            case "issuerserial":
                return WSConstants.ISSUER_SERIAL;
            case "thumbprint":
                return WSConstants.THUMBPRINT_IDENTIFIER;
            default:
                throw new IllegalArgumentException("unknown key identifier " + name);
        }
    }

    private static void sign(String keyId, String keyPath, String certPath, String inPath, String outPath,
            List<String> extraParts) throws Exception {
        byte[] keyDer = Files.readAllBytes(Paths.get(keyPath));
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(keyDer));
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(Paths.get(certPath))));
        KeyStore ks = KeyStore.getInstance("JKS");
        ks.load(null, null);
        ks.setKeyEntry(ALIAS, key, PASSWORD, new Certificate[] {cert});
        Merlin crypto = new Merlin();
        crypto.setKeyStore(ks);

        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        Document doc = dbf.newDocumentBuilder().parse(new File(inPath));
        String soapNS = doc.getDocumentElement().getNamespaceURI();

        WSSecHeader secHeader = new WSSecHeader();
        secHeader.setMustUnderstand(true);
        secHeader.insertSecurityHeader(doc);
        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(doc, secHeader);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(ALIAS, new String(PASSWORD));
        signature.setKeyIdentifierType(keyIdentifierType(keyId));
        signature.setSignatureAlgorithm("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
        signature.setDigestAlgo("http://www.w3.org/2001/04/xmlenc#sha256");
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart("Body", soapNS, ""));
        parts.add(new WSEncryptionPart("Timestamp", WSConstants.WSU_NS, ""));
        for (String p : extraParts) {
            int close = p.indexOf('}');
            parts.add(new WSEncryptionPart(p.substring(close + 1), p.substring(1, close), ""));
        }
        signature.setParts(parts);
        signature.build(doc, crypto, secHeader);

        TransformerFactory.newInstance().newTransformer()
                .transform(new DOMSource(doc), new StreamResult(new File(outPath)));
    }
}
