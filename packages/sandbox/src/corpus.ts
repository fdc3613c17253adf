// Word lists the generated cases are drawn from. Deliberately international (accents, CJK, RTL, emoji) and
// sprinkled with characters that break naive loaders (quotes, backslashes, newlines, HTML, U+2028).

export interface Person {
  first: string;
  last: string;
  /** ASCII handle used to build email addresses. */
  handle: string;
}

export const VISITORS: readonly Person[] = [
  { first: 'George', last: 'Miller', handle: 'george.miller' },
  { first: 'José', last: 'García', handle: 'jose.garcia' },
  { first: 'Zoë', last: 'Müller', handle: 'zoe.mueller' },
  { first: 'Søren', last: 'Kjærgaard', handle: 'soren.k' },
  { first: '太郎', last: '山田', handle: 'taro.yamada' },
  { first: '娜', last: '李', handle: 'na.li' },
  { first: 'Olga', last: 'Иванова', handle: 'olga.ivanova' },
  { first: 'François', last: "O'Brien", handle: 'francois.obrien' },
  { first: 'Aisha', last: 'Al-Farsi', handle: 'aisha.alfarsi' },
  { first: 'Nguyễn', last: 'Thị Hương', handle: 'huong.nguyen' },
  { first: 'Priya', last: 'Raghunathan', handle: 'priya.r' },
  { first: 'Łukasz', last: 'Wiśniewski', handle: 'lukasz.w' },
  { first: 'Ana', last: 'Conceição', handle: 'ana.conceicao' },
  { first: 'Mary "Mo"', last: 'Johnson', handle: 'mo.johnson' },
  { first: 'Björn', last: 'Ångström', handle: 'bjorn.angstrom' },
  { first: '민준', last: '김', handle: 'minjun.kim' },
  { first: 'Chloé', last: 'Dubois-Lefèvre', handle: 'chloe.dubois' },
  { first: 'Kwame', last: 'Mensah', handle: 'kwame.mensah' },
  { first: 'Liam', last: 'Smith', handle: 'liam.smith' },
  { first: 'Emma', last: 'Brown', handle: 'emma.brown' },
];

export const EMAIL_DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'exemple.fr', 'beispiel.de'] as const;

export const AGENT_NAMES: readonly Person[] = [
  { first: 'Sam', last: 'Taylor', handle: 'sam' },
  { first: 'Inès', last: 'Moreau', handle: 'ines' },
  { first: 'Kenji', last: 'Watanabe', handle: 'kenji' },
  { first: 'Maya', last: 'Cohen', handle: 'maya' },
  { first: 'Ólafur', last: 'Arnalds', handle: 'olafur' },
  { first: 'Lena', last: 'Schmidt', handle: 'lena' },
  { first: 'Diego', last: 'Fernández', handle: 'diego' },
  { first: 'Ruth', last: 'Okafor', handle: 'ruth' },
];

export const WIDGET_NAMES = ['Support', 'Sales', 'Billing', 'Onboarding', 'Technical help', 'Partners', 'Ventes 🇫🇷', 'サポート'] as const;

export interface Place {
  countryCode: string;
  country: string;
  region: string;
  city: string;
  latitude: number;
  longitude: number;
}

export const PLACES: readonly Place[] = [
  { countryCode: 'US', country: 'United States', region: 'California', city: 'San Francisco', latitude: 37.7749, longitude: -122.4194 },
  { countryCode: 'US', country: 'United States', region: 'New York', city: 'New York', latitude: 40.7128, longitude: -74.006 },
  { countryCode: 'CA', country: 'Canada', region: 'Québec', city: 'Montréal', latitude: 45.5019, longitude: -73.5674 },
  { countryCode: 'BR', country: 'Brazil', region: 'São Paulo', city: 'São Paulo', latitude: -23.5558, longitude: -46.6396 },
  { countryCode: 'DE', country: 'Germany', region: 'Bayern', city: 'München', latitude: 48.1351, longitude: 11.582 },
  { countryCode: 'CH', country: 'Switzerland', region: 'Zürich', city: 'Zürich', latitude: 47.3769, longitude: 8.5417 },
  { countryCode: 'FR', country: 'France', region: 'Île-de-France', city: 'Paris', latitude: 48.8566, longitude: 2.3522 },
  { countryCode: 'JP', country: 'Japan', region: '東京都', city: '東京', latitude: 35.6762, longitude: 139.6503 },
  { countryCode: 'IN', country: 'India', region: 'Karnataka', city: 'Bengaluru', latitude: 12.9716, longitude: 77.5946 },
  { countryCode: 'AU', country: 'Australia', region: 'New South Wales', city: 'Sydney', latitude: -33.8688, longitude: 151.2093 },
  { countryCode: 'ZA', country: 'South Africa', region: 'Western Cape', city: 'Cape Town', latitude: -33.9249, longitude: 18.4241 },
  { countryCode: 'GB', country: 'United Kingdom', region: 'England', city: 'London', latitude: 51.5074, longitude: -0.1278 },
  { countryCode: 'EG', country: 'Egypt', region: 'القاهرة', city: 'القاهرة', latitude: 30.0444, longitude: 31.2357 },
  { countryCode: 'NO', country: 'Norway', region: 'Oslo', city: 'Oslo', latitude: 59.9139, longitude: 10.7522 },
];

export interface Client {
  userAgent: string;
  browser: string;
  os: string;
}

export const CLIENTS: readonly Client[] = [
  { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', browser: 'Chrome 126.0', os: 'Windows 10' },
  { userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', browser: 'Safari 17.5', os: 'Mac OS X' },
  { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', browser: 'Mobile Safari 17.5', os: 'iOS' },
  { userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', browser: 'Firefox 127.0', os: 'Linux' },
  { userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', browser: 'Chrome Mobile 126.0', os: 'Android' },
  { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0', browser: 'Edge 125.0', os: 'Windows 10' },
];

export const LANGUAGE_CODES = ['en-us,en;q=0.5', 'en-gb,en;q=0.8', 'de-de,de;q=0.8,en;q=0.5', 'fr-fr,fr;q=0.9', 'ja,en-US;q=0.8', 'pt-br,pt;q=0.9,en;q=0.7', 'es-es,es;q=0.9'] as const;

export const PAGES = ['/', '/pricing', '/products/wireless-headphones', '/checkout', '/account/orders', '/help/returns', '/blog/été-2024', '/products/日本語-edition', '/search?q=shoes&size=42'] as const;

export const REFERRERS = ['https://www.google.com/', 'https://www.bing.com/search?q=snap+support', 'https://duckduckgo.com/', 'https://t.co/AbC123', 'https://news.example.org/article?id=7&utm_source=newsletter'] as const;

export const OPENERS = [
  'Hi, I need help with my order',
  'Hello! Do you ship to Canada?',
  'Bonjour, ma commande n’est pas arrivée 😕',
  'Hallo, ich habe eine Frage zur Rechnung.',
  'こんにちは、注文をキャンセルしたいです。',
  '你好，我的账户无法登录',
  'Can I change the size of my shoes? I ordered 42 but need 43',
  'My card was charged twice!!! 😡',
  'Is the "Pro" plan billed monthly or yearly?',
  'hey',
  'Olá, vocês têm desconto para estudantes?',
  'I get error C:\\Users\\me\\app.log "permission denied"',
  'Line one\nline two of my question',
  'Necesito ayuda con la devolución 🙏',
  '<b>urgent</b> please call me back',
  'مرحبا، أحتاج إلى مساعدة',
  'Where is my package? Tracking says "in transit" since Monday 📦',
] as const;

export const VISITOR_FOLLOW_UPS = [
  'Thanks!',
  'The order number is A-10293',
  'ok 👍',
  'Yes, that works for me.',
  'No, it still doesn’t work…',
  'Can you send me a confirmation email?',
  'Merci beaucoup !',
  'ありがとうございます 🙇',
  'It says "invalid\tcoupon"',
  'One moment please',
  'Perfect — thank you so much 🎉',
  'I tried that already\u2028twice',
] as const;

export const AGENT_LINES = [
  'Hi! Happy to help. Could you share your order number?',
  'Thanks, let me check that for you.',
  'I can see the order here, it shipped yesterday.',
  'I have refunded the duplicate charge; it takes 3–5 business days.',
  'Bien sûr, je regarde tout de suite.',
  'Natürlich, einen Moment bitte.',
  'かしこまりました。少々お待ちください。',
  'You can change the size from Account → Orders → Exchange.',
  'Is there anything else I can help you with?',
  'Have a great day! 😊',
  'I have sent the confirmation to your email.',
  'Let me transfer you to our billing team.',
] as const;

export const OFFLINE_MESSAGES = [
  'Please call me back tomorrow morning.',
  'I left a message earlier but nobody answered 😞',
  'Quote request: 250 units, delivery to Zürich.',
  'Je voudrais annuler mon abonnement.',
  '請回覆我的郵件，謝謝',
  'Your chat was offline. My question: do you have a store in Oslo?',
] as const;

export const SURVEY_COMMENTS = ['', 'Great service!', 'Sam was super helpful 🙌', 'Too slow.', 'Très bien', 'とても親切でした', 'The agent said "wait" three times', 'n/a'] as const;

export const LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  Category: ['Billing', 'Shipping', 'Returns', 'Technical', 'Sales'],
  Priority: ['Low', 'Normal', 'High'],
  Outcome: ['Resolved', 'Escalated', 'Follow-up'],
};

export const JS_VARIABLE_NAMES = ['cartValue', 'plan', 'userId', 'abTest', 'locale'] as const;
export const OPERATOR_VARIABLE_NAMES = ['order_id', 'crm_link', 'ticket', 'note'] as const;
