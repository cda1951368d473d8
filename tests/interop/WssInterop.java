/*
 * WssInterop - Apache WSS4J 1.6 as an independent WS-Security peer for msgsec.
 *
 * Usage: java WssInterop KEYDIR JOBFILE
 *
 * KEYDIR holds the PKCS#12 keystores made by keystores.sh (password "interop"):
 *   service.p12     the receiving service's key (alias "service")
 *   client-rsa.p12  CN=shop1 RSA sender (alias "client-rsa") + the service certificate
 *   client-ec.p12   CN=shop2 ECDSA sender (alias "client-ec") + the service certificate
 *   trust.p12       the test CA (trusted certificate entry "ca")
 *
 * JOBFILE has one job per line (blank lines and lines starting with # are skipped);
 * one JVM runs them all because JVM start-up dominates the run time:
 *
 *   produce out=FILE order=encrypt-then-sign|sign-then-encrypt soap=1.1|1.2 body=FILE
 *           [signer=client-rsa|client-ec] [to=URI] [oaep=sha1|sha256]
 *           [sig=sha256|sha1] [data=aes256-gcm|aes128-gcm|aes256-cbc] [transport=oaep|rsa15]
 *           [addressing=yes|no] [cover=full|minimal] [age=SECONDS]
 *           [ekref=thumbprint|issuer-serial|ski] [sigref=bst|issuer-serial]
 *           [encpart=content|element] [cred=x509|username user=NAME password=PASSWORD]
 *       WSS4J secures the XML element of body= for the service, as WSSecSignature.build()
 *       and WSSecEncrypt.build() do: signature parts Timestamp, Body and the
 *       WS-Addressing headers wsa:To/Action/MessageID (RSA-SHA256 or ECDSA-SHA256,
 *       exc-c14n, SHA-256, BST DirectReference); the BST that KeyInfo references is not
 *       signed (WSS4J's default, as WCF's ProtectTokens=false); Body content encrypted
 *       with AES-256-GCM, key transported with rsa-oaep-mgf1p to the service certificate
 *       (thumbprint reference), the EncryptedKey not signed.
 *       The optional keys select legacy algorithms (SHA-1 signature and digests, other
 *       content ciphers, RSA 1.5), an envelope without WS-Addressing headers
 *       (addressing=no), a signature over Timestamp and Body only (cover=minimal: the
 *       WS-Addressing headers stay unsigned), a Timestamp created SECONDS ago, the service
 *       certificate named by issuer and serial or by subject key identifier, the signer's
 *       certificate named by issuer and serial instead of sent as a BST, or the payload
 *       element encrypted as a whole (Type Element) instead of the Body content.
 *       Nothing is added toward msgsec: these are settings a WSS4J user makes.
 *       cred=username (encrypt-then-sign only): no signer certificate; a UsernameToken
 *       (PasswordText, Nonce, Created) encrypted in place for the service, the Body content
 *       encrypted with the same EncryptedKey, and an HMAC-SHA256 signature under that key
 *       over Timestamp, Body, wsa headers and the encrypted token. Security header:
 *       EncryptedKey (no ReferenceList), Signature, ReferenceList, token, Timestamp, so a
 *       receiver working in document order verifies before it decrypts.
 *   consume in=FILE body=FILE identity=DN|-|username:NAME [password=PASSWORD]
 *       WSS4J verifies and decrypts with the service key and the CA; the job passes when
 *       the signature principal is DN (identity=-: an anonymous sender, the signature is
 *       HMAC-SHA256 under the EncryptedKey's key; username:NAME: the same, plus a
 *       UsernameToken of NAME whose password WSS4J checked against password=), the
 *       signature covers the envelope's Body and Timestamp, the Body was encrypted, and the
 *       decrypted Body element equals body= (exclusive c14n).
 *   reject in=FILE [password=PASSWORD]
 *       the job passes when WSS4J refuses the envelope (prints WSS4J's reason).
 *
 * Prints one line per job: "PASS <job>" or "FAIL <job>: <reason>"; exits 1 if any failed,
 * 2 on a usage error.
 */

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Principal;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Crypto;
import org.apache.ws.security.components.crypto.CryptoFactory;
import org.apache.ws.security.components.crypto.CryptoType;
import org.apache.ws.security.message.WSSecEncrypt;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.apache.ws.security.message.WSSecUsernameToken;
import org.apache.xml.security.c14n.Canonicalizer;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

public final class WssInterop {
    private static final String PASSWORD = "interop";
    private static final String WSA_NS = "http://www.w3.org/2005/08/addressing";
    private static final String RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    private static final String ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    private static final String SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1";
    private static final String SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";
    private static final String RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    private static final String ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1";

    private final String keyDir;
    private final Map<String, Crypto> cryptos = new HashMap<>();

    private WssInterop(String keyDir) {
        this.keyDir = keyDir;
    }

    /** Merlin over KEYDIR/NAME.p12 with the test CA as trust store. */
    private Crypto crypto(String name) throws Exception {
        Crypto c = cryptos.get(name);
        if (c == null) {
            String prefix = "org.apache.ws.security.crypto.merlin.";
            Properties p = new Properties();
            p.setProperty("org.apache.ws.security.crypto.provider",
                          "org.apache.ws.security.components.crypto.Merlin");
            p.setProperty(prefix + "keystore.type", "pkcs12");
            p.setProperty(prefix + "keystore.password", PASSWORD);
            p.setProperty(prefix + "keystore.file", new File(keyDir, name + ".p12").getPath());
            p.setProperty(prefix + "truststore.type", "pkcs12");
            p.setProperty(prefix + "truststore.password", PASSWORD);
            p.setProperty(prefix + "truststore.file", new File(keyDir, "trust.p12").getPath());
            c = CryptoFactory.getInstance(p);
            cryptos.put(name, c);
        }
        return c;
    }

    /** The (test-only) keystore password for private keys, userPassword for UsernameTokens. */
    private static CallbackHandler passwords(String userPassword) {
        return (Callback[] callbacks) -> {
            for (Callback cb : callbacks) {
                if (cb instanceof WSPasswordCallback) {
                    WSPasswordCallback pc = (WSPasswordCallback) cb;
                    pc.setPassword(pc.getUsage() == WSPasswordCallback.USERNAME_TOKEN
                                   ? userPassword : PASSWORD);
                }
            }
        };
    }

    private static Document parseFile(String path) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(new File(path));
    }

    private static void write(Document doc, String path) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
        try (OutputStream out = new FileOutputStream(path)) {
            t.transform(new DOMSource(doc), new StreamResult(out));
        }
    }

    private static String c14n(Node node) throws Exception {
        Canonicalizer c = Canonicalizer.getInstance(Canonicalizer.ALGO_ID_C14N_EXCL_OMIT_COMMENTS);
        return new String(c.canonicalizeSubtree(node), StandardCharsets.UTF_8);
    }

    /** The single element child of the SOAP Body, or an exception naming what is there. */
    private static Element bodyElement(Document doc) throws Exception {
        Element env = doc.getDocumentElement();
        String soapNs = env.getNamespaceURI();
        Element body = child(env, soapNs, "Body");
        Element only = null;
        for (Node n = body.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE) {
                if (only != null) {
                    throw new Exception("Body holds more than one element");
                }
                only = (Element) n;
            }
        }
        if (only == null) {
            throw new Exception("Body holds no element");
        }
        return only;
    }

    private static Element child(Element parent, String ns, String local) throws Exception {
        for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n.getNodeType() == Node.ELEMENT_NODE && local.equals(n.getLocalName())
                && ns.equals(n.getNamespaceURI())) {
                return (Element) n;
            }
        }
        throw new Exception("no " + local + " in " + parent.getLocalName());
    }

    private static void addressingHeader(Document doc, Element header, String name, String value) {
        Element e = doc.createElementNS(WSA_NS, "wsa:" + name);
        e.setTextContent(value);
        header.appendChild(e);
    }

    // ---------------------------------------------------------------- produce

    private void produce(Map<String, String> a) throws Exception {
        String soapNs = "1.1".equals(choice(a, "soap", "1.2", "1.1")) ? WSConstants.URI_SOAP11_ENV
                      : WSConstants.URI_SOAP12_ENV;
        Crypto senderCrypto = crypto(choice(a, "signer", "client-rsa", "client-ec"));

        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
        Element env = doc.createElementNS(soapNs, "soap:Envelope");
        env.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:soap", soapNs);
        env.setAttributeNS("http://www.w3.org/2000/xmlns/", "xmlns:wsa", WSA_NS);
        doc.appendChild(env);
        Element header = doc.createElementNS(soapNs, "soap:Header");
        env.appendChild(header);
        if ("yes".equals(choice(a, "addressing", "yes", "no"))) {
            addressingHeader(doc, header, "To", a.getOrDefault("to", "urn:example:orders"));
            addressingHeader(doc, header, "Action", "urn:example:orders:new");
            addressingHeader(doc, header, "MessageID", "urn:uuid:" + UUID.randomUUID());
        }
        Element body = doc.createElementNS(soapNs, "soap:Body");
        env.appendChild(body);
        body.appendChild(doc.importNode(parseFile(a.get("body")).getDocumentElement(), true));

        WSSecHeader secHeader = new WSSecHeader();
        secHeader.setMustUnderstand(true);
        secHeader.insertSecurityHeader(doc);

        WSSConfig clock = WSSConfig.getNewInstance();
        long ageMillis = Long.parseLong(a.getOrDefault("age", "0")) * 1000L;
        clock.setCurrentTime(() -> new Date(System.currentTimeMillis() - ageMillis));
        WSSecTimestamp timestamp = new WSSecTimestamp(clock);
        timestamp.setTimeToLive(3600);
        timestamp.build(doc, secHeader);

        boolean encryptFirst =
            "encrypt-then-sign".equals(choice(a, "order", "encrypt-then-sign", "sign-then-encrypt"));
        if ("username".equals(choice(a, "cred", "x509", "username"))) {
            if (!encryptFirst) {
                throw new IllegalArgumentException("cred=username is encrypt-then-sign only");
            }
            username(doc, senderCrypto, secHeader, soapNs, a, timestamp.getId());
        } else if (encryptFirst) {
            encrypt(doc, senderCrypto, secHeader, soapNs, a);
            sign(doc, senderCrypto, secHeader, soapNs, a, timestamp.getId());
        } else {
            sign(doc, senderCrypto, secHeader, soapNs, a, timestamp.getId());
            encrypt(doc, senderCrypto, secHeader, soapNs, a);
        }
        write(doc, a.get("out"));
    }

    /** The value of an option that must be one of choices (the first is the default). */
    private static String choice(Map<String, String> a, String key, String... choices) {
        String v = a.getOrDefault(key, choices[0]);
        for (String c : choices) {
            if (c.equals(v)) {
                return v;
            }
        }
        throw new IllegalArgumentException(key + " must be one of " + String.join("|", choices));
    }

    /** Encrypts the Body content for the service; prepends the EncryptedKey. */
    private static void encrypt(Document doc, Crypto crypto, WSSecHeader secHeader, String soapNs,
                                Map<String, String> a) throws Exception {
        WSSecEncrypt enc = encryptor(a);
        List<WSEncryptionPart> parts = new ArrayList<>();
        if ("element".equals(choice(a, "encpart", "content", "element"))) {
            Element payload = bodyElement(doc);
            parts.add(new WSEncryptionPart(payload.getLocalName(), payload.getNamespaceURI(), "Element"));
        } else {
            parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, "Content"));
        }
        enc.setParts(parts);
        enc.build(doc, crypto, secHeader);
    }

    /** WSSecEncrypt for the service with the key reference and algorithms of the job. */
    private static WSSecEncrypt encryptor(Map<String, String> a) {
        WSSecEncrypt enc = new WSSecEncrypt();
        enc.setUserInfo("service");
        switch (choice(a, "ekref", "thumbprint", "issuer-serial", "ski")) {
        case "issuer-serial":
            enc.setKeyIdentifierType(WSConstants.ISSUER_SERIAL);
            break;
        case "ski":
            enc.setKeyIdentifierType(WSConstants.SKI_KEY_IDENTIFIER);
            break;
        default:
            enc.setKeyIdentifierType(WSConstants.THUMBPRINT_IDENTIFIER);
        }
        switch (choice(a, "data", "aes256-gcm", "aes128-gcm", "aes256-cbc")) {
        case "aes128-gcm":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_128_GCM);
            break;
        case "aes256-cbc":
            enc.setSymmetricEncAlgorithm(WSConstants.AES_256);
            break;
        default:
            enc.setSymmetricEncAlgorithm(WSConstants.AES_256_GCM);
        }
        enc.setKeyEncAlgo("rsa15".equals(choice(a, "transport", "oaep", "rsa15"))
                          ? WSConstants.KEYTRANSPORT_RSA15 : WSConstants.KEYTRANSPORT_RSAOEP);
        enc.setDigestAlgorithm("sha256".equals(choice(a, "oaep", "sha1", "sha256")) ? SHA256 : SHA1);
        return enc;
    }

    /**
     * Signs the job's parts with WSSecSignature.build(), as a WSS4J user does; the result
     * is BST, Signature at the head of the Security header (each step prepends). The BST
     * itself is not signed: WSS4J adds it to the signed parts only when told to.
     */
    private static void sign(Document doc, Crypto crypto, WSSecHeader secHeader, String soapNs,
                             Map<String, String> a, String timestampId) throws Exception {
        String signer = a.get("signer");
        boolean sha1 = "sha1".equals(choice(a, "sig", "sha256", "sha1"));
        WSSecSignature sig = new WSSecSignature();
        sig.setUserInfo(signer, PASSWORD);
        boolean bst = "bst".equals(choice(a, "sigref", "bst", "issuer-serial"));
        sig.setKeyIdentifierType(bst ? WSConstants.BST_DIRECT_REFERENCE : WSConstants.ISSUER_SERIAL);
        CryptoType alias = new CryptoType(CryptoType.TYPE.ALIAS);
        alias.setAlias(signer);
        String keyAlg = crypto.getX509Certificates(alias)[0].getPublicKey().getAlgorithm();
        if ("EC".equals(keyAlg)) {
            sig.setSignatureAlgorithm(sha1 ? ECDSA_SHA1 : ECDSA_SHA256);
        } else {
            sig.setSignatureAlgorithm(sha1 ? RSA_SHA1 : RSA_SHA256);
        }
        sig.setDigestAlgo(sha1 ? SHA1 : SHA256);
        sig.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        sig.setParts(signedParts(a, soapNs, timestampId));
        sig.build(doc, crypto, secHeader);
    }

    /**
     * Timestamp and Body; with cover=full (the default) also the WS-Addressing headers
     * wsa:To, Action, MessageID when the envelope has them (addressing=yes, the default).
     */
    private static List<WSEncryptionPart> signedParts(Map<String, String> a, String soapNs,
                                                      String timestampId) {
        List<WSEncryptionPart> parts = new ArrayList<>();
        parts.add(new WSEncryptionPart(timestampId));
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, "Element"));
        if ("full".equals(choice(a, "cover", "full", "minimal"))
            && "yes".equals(choice(a, "addressing", "yes", "no"))) {
            for (String name : new String[] {"To", "Action", "MessageID"}) {
                parts.add(new WSEncryptionPart(name, WSA_NS, "Element"));
            }
        }
        return parts;
    }

    /**
     * The username credential: UsernameToken encrypted in place and Body content under one
     * EncryptedKey, HMAC-SHA256 signature under its key (layout in the file header).
     */
    private static void username(Document doc, Crypto crypto, WSSecHeader secHeader, String soapNs,
                                 Map<String, String> a, String timestampId) throws Exception {
        WSSecUsernameToken ut = new WSSecUsernameToken();
        ut.setPasswordType(WSConstants.PASSWORD_TEXT);
        ut.setUserInfo(a.get("user"), a.get("password"));
        ut.addNonce();
        ut.addCreated();
        ut.build(doc, secHeader);

        WSSecEncrypt enc = encryptor(a);
        enc.prepare(doc, crypto);
        List<WSEncryptionPart> encrypted = new ArrayList<>();
        encrypted.add(new WSEncryptionPart("UsernameToken", WSConstants.WSSE_NS, "Element"));
        encrypted.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, "Content"));
        Element refs = enc.encryptForRef(null, encrypted);
        enc.addExternalRefElement(refs, secHeader);
        String tokenRef = ((Element) refs.getFirstChild()).getAttributeNS(null, "URI");

        WSSecSignature sig = new WSSecSignature();
        sig.setKeyIdentifierType(WSConstants.CUSTOM_SYMM_SIGNING);
        sig.setCustomTokenId(enc.getId());
        sig.setCustomTokenValueType(WSConstants.WSS_ENC_KEY_VALUE_TYPE);
        sig.setSecretKey(enc.getEphemeralKey());
        sig.setSignatureAlgorithm(WSConstants.HMAC_SHA256);
        sig.setDigestAlgo(SHA256);
        sig.setSigCanonicalization(WSConstants.C14N_EXCL_OMIT_COMMENTS);
        sig.prepare(doc, crypto, secHeader);
        List<WSEncryptionPart> parts = signedParts(a, soapNs, timestampId);
        parts.add(new WSEncryptionPart(tokenRef.substring(1)));
        sig.computeSignature(sig.addReferencesToSign(parts, secHeader));
        enc.prependToHeader(secHeader);
    }

    // ---------------------------------------------------------------- consume

    /** WSS4J as the service: its keystore decrypts, its trust store (the CA) checks signers. */
    private List<WSSecurityEngineResult> process(Document doc, String userPassword) throws Exception {
        WSSecurityEngine engine = new WSSecurityEngine();
        WSSConfig config = WSSConfig.getNewInstance();
        config.setWsiBSPCompliant(true);
        engine.setWssConfig(config);
        return engine.processSecurityHeader(doc, null, passwords(userPassword),
                                            crypto("service"), crypto("service"));
    }

    /** The results of one action (WSConstants.SIGN, ...); at least one. */
    private static List<WSSecurityEngineResult> results(List<WSSecurityEngineResult> all, int action)
        throws Exception {
        List<WSSecurityEngineResult> found = new ArrayList<>();
        for (WSSecurityEngineResult r : all) {
            if (((Integer) r.get(WSSecurityEngineResult.TAG_ACTION)) == action) {
                found.add(r);
            }
        }
        if (found.isEmpty()) {
            throw new Exception("no result for action " + action);
        }
        return found;
    }

    private void consume(Map<String, String> a) throws Exception {
        Document doc = parseFile(a.get("in"));
        String soapNs = doc.getDocumentElement().getNamespaceURI();
        List<WSSecurityEngineResult> results = process(doc, a.get("password"));

        List<WSSecurityEngineResult> sigs = results(results, WSConstants.SIGN);
        if (sigs.size() != 1) {
            throw new Exception(sigs.size() + " signatures");
        }
        WSSecurityEngineResult sig = sigs.get(0);
        String method = (String) sig.get(WSSecurityEngineResult.TAG_SIGNATURE_METHOD);
        String identity = a.get("identity");
        if ("-".equals(identity) || identity.startsWith("username:")) {
            if (!WSConstants.HMAC_SHA256.equals(method)
                || sig.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE) != null) {
                throw new Exception("expected an HMAC-SHA256 signature without certificate, got " + method);
            }
            if (identity.startsWith("username:")) {
                List<WSSecurityEngineResult> uts = results(results, WSConstants.UT);
                Principal user = (Principal) uts.get(0).get(WSSecurityEngineResult.TAG_PRINCIPAL);
                if (uts.size() != 1 || !identity.equals("username:" + user.getName())) {
                    throw new Exception("UsernameToken of " + user.getName() + ", expected " + identity);
                }
            }
        } else {
            Principal principal = (Principal) sig.get(WSSecurityEngineResult.TAG_PRINCIPAL);
            identity = principal == null ? "(none)" : principal.getName();
            if (!identity.equals(a.get("identity"))) {
                throw new Exception("principal " + identity + ", expected " + a.get("identity"));
            }
        }
        @SuppressWarnings("unchecked")
        List<WSDataRef> signed = (List<WSDataRef>) sig.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
        // the very Body and Timestamp of this envelope, not copies elsewhere (XML signature
        // wrapping: processSecurityHeader alone accepts a signed Body moved into a header)
        Element env = doc.getDocumentElement();
        requireSigned(signed, child(env, soapNs, "Body"));
        Element security = child(child(env, soapNs, "Header"), WSConstants.WSSE_NS, "Security");
        requireSigned(signed, child(security, WSConstants.WSU_NS, "Timestamp"));
        results(results, WSConstants.ENCR);
        results(results, WSConstants.TS);

        String got = c14n(bodyElement(doc));
        String want = c14n(parseFile(a.get("body")).getDocumentElement());
        if (!got.equals(want)) {
            throw new Exception("decrypted Body differs: got " + got + " expected " + want);
        }
        System.out.println("  principal=" + identity + " signature-method=" + method + " body=" + got);
    }

    private static void requireSigned(List<WSDataRef> signed, Element element) throws Exception {
        for (WSDataRef ref : signed) {
            if (ref.getProtectedElement() == element) {
                return;
            }
        }
        throw new Exception("signature does not cover the envelope's " + element.getLocalName());
    }

    private void reject(Map<String, String> a) throws Exception {
        Document doc = parseFile(a.get("in"));
        try {
            process(doc, a.get("password"));
        } catch (Exception e) {
            System.out.println("  refused as expected: " + e.getMessage());
            return;
        }
        throw new Exception("WSS4J accepted an envelope it must refuse");
    }

    // ---------------------------------------------------------------- driver

    private static Map<String, String> args(String[] words, String... required) {
        Map<String, String> m = new HashMap<>();
        for (int i = 1; i < words.length; i++) {
            int eq = words[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got " + words[i]);
            }
            m.put(words[i].substring(0, eq), words[i].substring(eq + 1));
        }
        for (String key : required) {
            if (!m.containsKey(key)) {
                throw new IllegalArgumentException("missing " + key + "=");
            }
        }
        return m;
    }

    private void run(String line) throws Exception {
        String[] words = line.trim().split("\\s+");
        switch (words[0]) {
        case "produce":
            produce(args(words, "out", "order", "soap", "body"));
            break;
        case "consume":
            consume(args(words, "in", "body", "identity"));
            break;
        case "reject":
            reject(args(words, "in"));
            break;
        default:
            throw new IllegalArgumentException("unknown job " + words[0]);
        }
    }

    public static void main(String[] argv) throws IOException {
        if (argv.length != 2) {
            System.err.println("usage: WssInterop KEYDIR JOBFILE");
            System.exit(2);
        }
        WSSConfig.init();
        WssInterop harness = new WssInterop(argv[0]);
        int failed = 0;
        for (String line : Files.readAllLines(Paths.get(argv[1]), StandardCharsets.UTF_8)) {
            if (line.isBlank() || line.trim().startsWith("#")) {
                continue;
            }
            try {
                harness.run(line);
                System.out.println("PASS " + line.trim());
            } catch (Exception e) {
                failed++;
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                String why = e.getMessage();
                if (root != e) {
                    why += " (" + root + ")";
                }
                System.out.println("FAIL " + line.trim() + ": " + why);
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
