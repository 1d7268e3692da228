/*
 * A stand-in for Stripe.js v3, for the shop's local stack. infra/local/stripe_server.py serves it
 * at GET /v3/, where https://js.stripe.com/v3/ is in AWS, and it talks to that same server where
 * Stripe.js talks to https://api.stripe.com.
 *
 * It implements the part of Stripe.js the storefront uses, with Stripe's names and result shapes:
 *
 *   const stripe = Stripe('pk_test_...');
 *   const elements = stripe.elements({ clientSecret });
 *   const payment = elements.create('payment');
 *   payment.mount('#payment-element');
 *   payment.on('change', (event) => ...);            // optional
 *   const { error, paymentIntent } = await stripe.confirmPayment({
 *     elements, confirmParams: { return_url }, redirect: 'if_required' });
 *   const { paymentIntent } = await stripe.retrievePaymentIntent(clientSecret);
 *
 * What it simplifies, against real Stripe.js:
 * - The Payment Element is a card form rendered into the page itself (labelled inputs "Card
 *   number", "Expiry", "CVC"); Stripe's lives in an iframe from js.stripe.com and offers every
 *   payment method the account has enabled. A browser test that finds the fields by their labels
 *   here has to look inside that iframe against real Stripe.
 * - Only Stripe's test cards the local server knows are accepted, each mapped to the test
 *   PaymentMethod of the same behaviour (see TEST_CARDS). Stripe.js sends the card details to
 *   Stripe, which creates the PaymentMethod; here no card number leaves the page.
 * - 3D Secure: where Stripe.js opens the issuer's challenge in a modal iframe (in test mode
 *   Stripe's page with "Complete" and "Fail"), this opens a <dialog> with the buttons "Complete
 *   authentication" and "Fail authentication" and tells the local server the outcome through its
 *   stand-in-only endpoint POST /v1/payment_intents/{id}/stand_in_authenticate.
 * - Integration mistakes (a secret key, a malformed client secret, a missing return_url) throw an
 *   IntegrationError as Stripe.js does; from confirmPayment they reject its promise.
 * - Options that only shape Stripe's UI or other flows (appearance, locale, fonts, layout,
 *   payment_method_data, deferred intents without a clientSecret, ...) are accepted and ignored,
 *   or refused with an IntegrationError that says the stand-in lacks them.
 *
 * Plain modern JavaScript: no build step, no dependencies, no other host. It builds its DOM with
 * DOM calls and styles it through element.style, so a page whose Content-Security-Policy forbids
 * inline styles and innerHTML still works (it needs the local server in connect-src and
 * script-src, as Stripe.js needs js.stripe.com and api.stripe.com).
 */
(function () {
  'use strict';

  if (window.Stripe && window.Stripe.standIn) {
    // Loaded twice: keep the first (Stripe.js warns and does the same).
    console.warn('Stripe.js (local stand-in) was loaded more than once on this page.');
    return;
  }

  // The local Stripe API is where this script came from (Stripe.js: api.stripe.com).
  const API_BASE = (function () {
    const script = document.currentScript;
    if (script && script.src) return new URL(script.src).origin;
    const found = Array.from(document.scripts).find((s) => /\/v3\/?(\?.*)?$/.test(s.src));
    return found ? new URL(found.src).origin : window.location.origin;
  })();

  // Stripe's test card numbers, each with the test PaymentMethod the local server knows for it
  // (stripe_server.py: confirm()). Stripe has many more; the stand-in refuses any other number.
  const TEST_CARDS = {
    '4242424242424242': 'pm_card_visa', // succeeds
    '4000000000000002': 'pm_card_chargeDeclined', // declined: card_declined / generic_decline
    '4000002500003155': 'pm_card_authenticationRequired', // 3D Secure, then succeeds or fails
  };

  // Stripe.js's own wording of the errors it reports before (or instead of) the API's.
  const MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is invalid.',
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration month is invalid.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    incomplete_cvc: "Your card's security code is incomplete.",
    // What Stripe.js says when 3D Secure fails (the intent's last_payment_error says it otherwise).
    payment_intent_authentication_failure:
      'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
    api_connection_error: 'We could not connect to Stripe. Please check your connection and try again.',
  };

  const CLIENT_SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;

  class IntegrationError extends Error {
    constructor(message) {
      super(message);
      this.name = 'IntegrationError';
    }
  }

  function intentId(clientSecret, caller) {
    const match = typeof clientSecret === 'string' ? CLIENT_SECRET.exec(clientSecret) : null;
    if (!match) {
      throw new IntegrationError(
        `Invalid value for ${caller}: clientSecret should be a client secret of the form ` +
          `\${id}_secret_\${secret}. You specified: ${clientSecret}.`
      );
    }
    return match[1];
  }

  // --- The API, as Stripe.js calls it -------------------------------------------------------

  // A form-encoded request with the publishable key and client secret as parameters: a "simple"
  // cross-origin request, so the browser sends no preflight (Stripe.js does the same).
  async function api(method, path, fields) {
    const query = new URLSearchParams(fields);
    const url = method === 'GET' ? `${API_BASE}${path}?${query}` : `${API_BASE}${path}`;
    const init = method === 'GET' ? { method } : { method, body: query };
    init.credentials = 'omit';
    try {
      const response = await fetch(url, init);
      return await response.json();
    } catch (cause) {
      return { error: { type: 'api_connection_error', message: MESSAGES.api_connection_error } };
    }
  }

  // --- Small DOM helpers ----------------------------------------------------------------------

  function el(tag, attributes, style, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    Object.assign(node.style, style || {});
    for (const child of children || []) node.append(child);
    return node;
  }

  const digits = (text) => String(text || '').replace(/\D/g, '');

  // Rewrites an input's value with `format`, keeping the caret after the same number of digits.
  function reformat(input, format) {
    const caret = input.selectionStart == null ? input.value.length : input.selectionStart;
    const atEnd = caret >= input.value.length;
    const digitsBefore = digits(input.value.slice(0, caret)).length;
    const value = format(input.value);
    if (value === input.value) return;
    input.value = value;
    if (atEnd) return; // typing at the end (the usual case): the caret stays at the end
    let position = 0;
    for (let seen = 0; position < value.length && seen < digitsBefore; position++) {
      if (/\d/.test(value[position])) seen++;
    }
    if (document.activeElement === input) input.setSelectionRange(position, position);
  }

  const formatNumber = (value) =>
    digits(value)
      .slice(0, 19)
      .replace(/(\d{4})(?=\d)/g, '$1 ');

  // "MM / YY", as the Payment Element writes it; "4" becomes "04", a pasted "12/2034" "12 / 34".
  function formatExpiry(value) {
    let [month, year] = String(value).includes('/') ? String(value).split('/') : [value, ''];
    month = digits(month);
    year = digits(year);
    if (String(value).includes('/')) {
      if (month.length === 1) month = `0${month}`;
      if (year.length === 4) year = year.slice(2);
    } else {
      const all = month;
      month = all.slice(0, 2);
      year = all.slice(2);
    }
    if (month.length === 1 && Number(month) > 1) month = `0${month}`;
    month = month.slice(0, 2);
    year = year.slice(0, 2);
    return year ? `${month} / ${year}` : month;
  }

  const formatCvc = (value) => digits(value).slice(0, 4);

  const FIELD_STYLE = {
    display: 'block',
    width: '100%',
    boxSizing: 'border-box',
    padding: '0.6em 0.75em',
    border: '1px solid #8a8f98',
    borderRadius: '6px',
    font: 'inherit',
    color: 'inherit',
    background: '#fff',
  };
  const LABEL_STYLE = { display: 'block', marginBottom: '0.25em', fontWeight: '600' };
  const ERROR_STYLE = { margin: '0.25em 0 0', minHeight: '1.2em', color: '#b3261e', fontSize: '0.9em' };

  // --- The Payment Element ------------------------------------------------------------------

  let elementCount = 0;

  class PaymentElement {
    constructor(group, options) {
      this._group = group;
      this._options = options || {};
      this._handlers = {};
      this._container = null;
      this._root = null;
      this._fields = null;
      this._destroyed = false;
      this._uid = `stripe-stand-in-${++elementCount}`;
    }

    mount(target) {
      if (this._destroyed) throw new IntegrationError('This Element has already been destroyed. Please create a new one.');
      if (this._root) {
        throw new IntegrationError('This Element is already mounted. Use `unmount()` to unmount the Element before re-mounting.');
      }
      const container = typeof target === 'string' ? document.querySelector(target) : target;
      if (!(container instanceof Element)) {
        throw new IntegrationError(
          typeof target === 'string'
            ? `The selector you specified (${target}) applies to no DOM elements that are currently on the page. ` +
                'Make sure the element exists on the page before calling mount().'
            : 'Invalid DOM element. Make sure to call mount() with a valid DOM element or selector.'
        );
      }
      this._container = container;
      this._render();
      // Stripe's element says 'ready' once its iframe has loaded: here, on the next turn.
      setTimeout(() => this._emit('ready', { elementType: 'payment' }), 0);
    }

    unmount() {
      if (this._root) this._root.remove();
      this._root = null;
      this._fields = null;
      this._container = null;
    }

    destroy() {
      this.unmount();
      this._destroyed = true;
      this._group._forget(this);
    }

    on(event, handler) {
      (this._handlers[event] = this._handlers[event] || []).push(handler);
      return this;
    }

    once(event, handler) {
      const wrapper = (payload) => {
        this.off(event, wrapper);
        handler(payload);
      };
      return this.on(event, wrapper);
    }

    off(event, handler) {
      const list = this._handlers[event] || [];
      this._handlers[event] = handler ? list.filter((h) => h !== handler) : [];
      return this;
    }

    focus() {
      if (this._fields) this._fields.number.input.focus();
    }

    blur() {
      if (this._fields && this._root.contains(document.activeElement)) document.activeElement.blur();
    }

    clear() {
      if (!this._fields) return;
      for (const field of Object.values(this._fields)) {
        field.input.value = '';
        this._showError(field, null);
      }
      this._changed();
    }

    update(options) {
      // Stripe: layout, business name, readOnly, ... Only readOnly changes anything here.
      Object.assign(this._options, options || {});
      this._setReadOnly(Boolean(this._options.readOnly));
    }

    collapse() {
      // Stripe collapses the accordion layout; the stand-in has a single card form.
      return this;
    }

    _emit(event, payload) {
      for (const handler of (this._handlers[event] || []).slice()) {
        try {
          handler(payload);
        } catch (error) {
          setTimeout(() => {
            throw error;
          }, 0);
        }
      }
    }

    _render() {
      const uid = this._uid;
      const field = (key, label, attributes, format) => {
        const id = `${uid}-${key}`;
        const input = el(
          'input',
          Object.assign(
            {
              id,
              name: key,
              type: 'text',
              inputmode: 'numeric',
              spellcheck: 'false',
              'aria-invalid': 'false',
              'aria-describedby': `${id}-error`,
            },
            attributes
          ),
          FIELD_STYLE
        );
        const error = el('p', { id: `${id}-error`, 'aria-live': 'polite' }, ERROR_STYLE);
        const wrapper = el('div', { 'data-stand-in-field': key }, { flex: '1 1 0', minWidth: '0' }, [
          el('label', { for: id }, LABEL_STYLE, [label]),
          input,
          error,
        ]);
        input.addEventListener('input', () => {
          reformat(input, format);
          if (input.getAttribute('aria-invalid') === 'true') this._showError(this._fields[key], null);
          this._changed();
        });
        input.addEventListener('focus', () => this._emit('focus', { elementType: 'payment' }));
        input.addEventListener('blur', () => this._emit('blur', { elementType: 'payment' }));
        return { input, error, wrapper };
      };
      const number = field(
        'number',
        'Card number',
        { autocomplete: 'cc-number', placeholder: '1234 1234 1234 1234', maxlength: '23' },
        formatNumber
      );
      const expiry = field('expiry', 'Expiry', { autocomplete: 'cc-exp', placeholder: 'MM / YY', maxlength: '7' }, formatExpiry);
      const cvc = field('cvc', 'CVC', { autocomplete: 'cc-csc', placeholder: 'CVC', maxlength: '4' }, formatCvc);
      this._fields = { number, expiry, cvc };
      this._root = el(
        'fieldset',
        { 'data-stripe-stand-in': 'payment-element' },
        { border: '0', margin: '0', padding: '0', minWidth: '0' },
        [
          el('legend', {}, { fontWeight: '600', padding: '0', marginBottom: '0.5em' }, ['Card']),
          number.wrapper,
          el('div', {}, { display: 'flex', gap: '0.75em' }, [expiry.wrapper, cvc.wrapper]),
          el('p', {}, { margin: '0', fontSize: '0.8em', color: '#5f6368' }, [
            'Test mode: the local Stripe stand-in takes only Stripe test cards.',
          ]),
        ]
      );
      this._container.append(this._root);
      this._setReadOnly(Boolean(this._options.readOnly));
    }

    _setReadOnly(readOnly) {
      if (!this._fields) return;
      for (const { input } of Object.values(this._fields)) input.readOnly = readOnly;
    }

    _changed() {
      const values = Object.values(this._fields).map(({ input }) => input.value);
      this._emit('change', {
        elementType: 'payment',
        empty: values.every((v) => v === ''),
        complete: this._errors().length === 0,
        collapsed: false,
        value: { type: 'card' },
      });
    }

    _showError(field, message) {
      field.error.textContent = message || '';
      field.input.setAttribute('aria-invalid', message ? 'true' : 'false');
    }

    // Every field's problem, in the fields' order: [{ field, type, code, message }].
    _errors() {
      const { number, expiry, cvc } = this._fields;
      const errors = [];
      const problem = (field, type, code) => errors.push({ field, type, code, message: MESSAGES[code] });

      // Stripe validates the number as it is typed (length and checksum) and reports a bad one as
      // a validation_error; the stand-in knows only its test cards, and calls any other number a
      // card error, as Stripe's API would a number it cannot charge.
      const card = digits(number.input.value);
      if (!card) problem(number, 'validation_error', 'incomplete_number');
      else if (!TEST_CARDS[card]) problem(number, 'card_error', 'invalid_number');

      const match = /^(\d{2}) \/ (\d{2})$/.exec(expiry.input.value.trim());
      if (!match) {
        problem(expiry, 'validation_error', 'incomplete_expiry');
      } else {
        const month = Number(match[1]);
        const year = 2000 + Number(match[2]);
        const now = new Date();
        if (month < 1 || month > 12) problem(expiry, 'validation_error', 'invalid_expiry_month');
        else if (year < now.getFullYear()) problem(expiry, 'validation_error', 'invalid_expiry_year_past');
        else if (year === now.getFullYear() && month < now.getMonth() + 1) {
          problem(expiry, 'validation_error', 'invalid_expiry_month_past');
        }
      }

      // Stripe wants 4 digits for American Express, 3 otherwise; the test cards here are Visa.
      if (digits(cvc.input.value).length < 3) problem(cvc, 'validation_error', 'incomplete_cvc');
      return errors;
    }

    // Shows each field's problem under it, as the Payment Element does, and answers the first as
    // Stripe.js's error object, or null.
    _validate() {
      const errors = this._errors();
      for (const field of Object.values(this._fields)) {
        const found = errors.find((e) => e.field === field);
        this._showError(field, found && found.message);
      }
      if (!errors.length) return null;
      const first = errors[0];
      first.field.input.focus();
      return { type: first.type, code: first.code, message: first.message };
    }

    _paymentMethod() {
      return TEST_CARDS[digits(this._fields.number.input.value)];
    }

    // The 3D Secure step: a modal dialog with the choice of outcome; resolves 'complete' or 'fail'.
    _authenticate() {
      return new Promise((resolve) => {
        const uid = `${this._uid}-3ds`;
        const complete = el('button', { type: 'button', autofocus: '' }, buttonStyle('#1a73e8', '#fff'), [
          'Complete authentication',
        ]);
        const fail = el('button', { type: 'button' }, buttonStyle('#fff', '#b3261e'), ['Fail authentication']);
        const dialog = el(
          'dialog',
          { 'aria-labelledby': `${uid}-title`, 'aria-describedby': `${uid}-text`, 'data-stripe-stand-in': '3ds' },
          {
            maxWidth: '26rem',
            padding: '1.5rem',
            border: '1px solid #8a8f98',
            borderRadius: '10px',
            font: 'inherit',
            color: '#202124',
            background: '#fff',
          },
          [
            el('h2', { id: `${uid}-title` }, { margin: '0 0 0.5em', fontSize: '1.25em' }, ['Authenticate this payment (test)']),
            el('p', { id: `${uid}-text` }, { margin: '0 0 1.25em' }, [
              'Your bank asks you to confirm this payment. In test mode you choose how the ' +
                '3D Secure authentication ends.',
            ]),
            el('div', {}, { display: 'flex', gap: '0.75em', flexWrap: 'wrap' }, [complete, fail]),
          ]
        );
        let done = false;
        const finish = (outcome) => {
          if (done) return;
          done = true;
          if (typeof dialog.close === 'function' && dialog.open) dialog.close();
          dialog.remove();
          resolve(outcome);
        };
        complete.addEventListener('click', () => finish('complete'));
        fail.addEventListener('click', () => finish('fail'));
        // Escape closes it; on Stripe, closing the challenge fails the authentication too.
        dialog.addEventListener('cancel', (event) => {
          event.preventDefault();
          finish('fail');
        });
        document.body.append(dialog);
        if (typeof dialog.showModal === 'function') {
          dialog.showModal();
        } else {
          dialog.setAttribute('open', '');
          dialog.setAttribute('role', 'dialog');
          dialog.setAttribute('aria-modal', 'true');
        }
        complete.focus();
      });
    }
  }

  function buttonStyle(background, color) {
    return {
      padding: '0.6em 1em',
      border: `1px solid ${color === '#fff' ? background : color}`,
      borderRadius: '6px',
      font: 'inherit',
      fontWeight: '600',
      color,
      background,
      cursor: 'pointer',
    };
  }

  // --- Elements -----------------------------------------------------------------------------

  class Elements {
    constructor(stripe, options) {
      options = options || {};
      if (!options.clientSecret) {
        // Stripe also takes { mode, amount, currency } and a client secret later; not the stand-in.
        throw new IntegrationError('The local Stripe.js stand-in needs elements({ clientSecret }) of a PaymentIntent.');
      }
      intentId(options.clientSecret, 'elements()');
      this._stripe = stripe;
      this._clientSecret = options.clientSecret;
      this._options = options;
      this._elements = {};
    }

    create(type, options) {
      if (type !== 'payment') {
        throw new IntegrationError(`The local Stripe.js stand-in has only the 'payment' Element, not '${type}'.`);
      }
      if (this._elements.payment) throw new IntegrationError('Can only create one Element of type payment.');
      return (this._elements.payment = new PaymentElement(this, options));
    }

    getElement(type) {
      return this._elements[type] || null;
    }

    update(options) {
      // Stripe: appearance, locale, amount, ... all only look, here.
      Object.assign(this._options, options || {});
    }

    // Stripe's elements.submit(): validates the form before a confirm (deferred-intent flows).
    async submit() {
      const element = this._elements.payment;
      if (!element || !element._fields) throw new IntegrationError('elements.submit(): mount a Payment Element first.');
      const error = element._validate();
      return error ? { error } : {};
    }

    async fetchUpdates() {
      return {};
    }

    _forget(element) {
      if (this._elements.payment === element) delete this._elements.payment;
    }
  }

  // --- Stripe -------------------------------------------------------------------------------

  class StripeClient {
    constructor(key, options) {
      if (typeof key !== 'string' || key === '') {
        throw new IntegrationError('Please call Stripe() with your publishable key. You used an empty string.');
      }
      if (/^(sk|rk)_/.test(key)) {
        throw new IntegrationError('You should not use your secret key with Stripe.js. Please pass a publishable key instead.');
      }
      if (!key.startsWith('pk_')) {
        throw new IntegrationError(`Invalid value for Stripe(): apiKey should be a publishable key (pk_...). You specified: ${key}.`);
      }
      this._key = key;
      this._options = options || {};
    }

    elements(options) {
      return new Elements(this, options);
    }

    async retrievePaymentIntent(clientSecret) {
      const id = intentId(clientSecret, 'retrievePaymentIntent');
      const answer = await api('GET', `/v1/payment_intents/${id}`, { key: this._key, client_secret: clientSecret });
      return answer.error ? { error: answer.error } : { paymentIntent: answer };
    }

    async confirmPayment(options) {
      options = options || {};
      const elements = options.elements;
      if (!(elements instanceof Elements)) {
        throw new IntegrationError('stripe.confirmPayment(): the `elements` option is required (the stand-in has no other flow).');
      }
      const clientSecret = options.clientSecret || elements._clientSecret;
      const id = intentId(clientSecret, 'stripe.confirmPayment()');
      const confirmParams = options.confirmParams || {};
      const redirect = options.redirect || 'always';
      if (redirect !== 'always' && redirect !== 'if_required') {
        throw new IntegrationError(`Invalid value for stripe.confirmPayment(): redirect should be "always" or "if_required". You specified: ${redirect}.`);
      }
      if (redirect === 'always' && !confirmParams.return_url) {
        throw new IntegrationError(
          "stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless passing `redirect: 'if_required'`"
        );
      }
      const element = elements.getElement('payment');
      if (!element || !element._fields) {
        throw new IntegrationError('stripe.confirmPayment(): the Payment Element must be mounted first.');
      }

      const invalid = element._validate();
      if (invalid) return { error: invalid };

      const auth = { key: this._key, client_secret: clientSecret };
      element._setReadOnly(true);
      let intent;
      try {
        // Stripe.js sends payment_method_data[card][...] and lets Stripe make the PaymentMethod;
        // the stand-in names the test PaymentMethod of the same behaviour.
        const fields = Object.assign({ payment_method: element._paymentMethod() }, auth);
        if (confirmParams.return_url) fields.return_url = confirmParams.return_url;
        intent = await api('POST', `/v1/payment_intents/${id}/confirm`, fields);
        if (intent.error) return { error: intent.error };

        if (intent.status === 'requires_action' && intent.next_action && intent.next_action.type === 'use_stripe_sdk') {
          const outcome = await element._authenticate();
          intent = await api('POST', `/v1/payment_intents/${id}/stand_in_authenticate`, Object.assign({ outcome }, auth));
          if (intent.error) return { error: intent.error };
        }
      } finally {
        element._setReadOnly(Boolean(element._options.readOnly));
      }

      if (intent.status === 'requires_payment_method' && intent.last_payment_error) {
        const failure = intent.last_payment_error;
        return {
          error: Object.assign({}, failure, {
            message: MESSAGES[failure.code] || failure.message,
            payment_intent: intent,
          }),
        };
      }
      if (!['succeeded', 'processing', 'requires_capture'].includes(intent.status)) {
        // Not reached with the local server's test cards; Stripe.js would not redirect either.
        return { error: { type: 'api_error', message: `The PaymentIntent is ${intent.status} after confirmation.`, payment_intent: intent } };
      }
      if (redirect === 'if_required') return { paymentIntent: intent };

      // Stripe.js sends the shopper to the return_url with these parameters, even for a card
      // that needed no redirect; the promise then never settles.
      const url = new URL(confirmParams.return_url, window.location.href);
      url.searchParams.set('payment_intent', intent.id);
      url.searchParams.set('payment_intent_client_secret', clientSecret);
      url.searchParams.set('redirect_status', intent.status === 'processing' ? 'processing' : 'succeeded');
      window.location.assign(url.toString());
      return new Promise(() => {});
    }
  }

  // Stripe(key) and new Stripe(key) both give a client, as with Stripe.js.
  function Stripe(key, options) {
    return new StripeClient(key, options);
  }
  Stripe.version = 3;
  Stripe.standIn = true; // not in Stripe.js: tells a page or a test it has the local stand-in
  window.Stripe = Stripe;
})();
