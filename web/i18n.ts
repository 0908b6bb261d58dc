/**
 * The interface's own strings in en/ko/zh. Lessons are translated by their authors and
 * served by the server; this file only covers the chrome around them. The lesson
 * language follows the interface language, so there is a single switch.
 */
import type { Lang } from '../lab-server/contract/lang.ts';

export type { Lang };

/**
 * One name per language of the contract (lab-server/contract/lang.ts): a language
 * added there does not compile here until it has a name and a catalog below.
 */
export const LANG_NAMES: Record<Lang, string> = { en: 'English', ko: '한국어', zh: '中文' };
export const LANGS = Object.keys(LANG_NAMES) as Lang[];

const en = {
  'app.name': 'nslab',
  'app.tagline': 'Linux namespaces, hands on',
  'skip.main': 'Skip to content',
  'nav.lessons': 'Lessons',
  'lang.label': 'Language',
  'theme.toDark': 'Switch to dark theme',
  'theme.toLight': 'Switch to light theme',
  'shortcuts.open': 'Keyboard shortcuts',
  'shortcuts.title': 'Keyboard shortcuts',
  'shortcuts.close': 'Close',
  'shortcuts.term': 'Go to terminal 1–9',
  'shortcuts.new': 'Open another terminal',
  'shortcuts.nextTerm': 'Next / previous terminal',
  'shortcuts.lesson': 'Go to the lesson (leave the terminal)',
  'shortcuts.step': 'Jump to the current step',
  'shortcuts.search': 'Search the terminal output',
  'shortcuts.help': 'Show this list',
  'list.title': 'Lessons',
  'list.intro': 'Each lesson gives you a real Linux machine of your own, with root, in your browser. Break anything you like — a reset brings it back.',
  'list.minutes': '{n} min',
  'list.start': 'Start',
  'list.continue': 'Continue',
  'list.empty': 'No lessons are installed on this server yet.',
  'list.loading': 'Loading lessons…',
  'list.error': 'Could not load the lessons: {msg}',
  'retry': 'Try again',
  'lesson.loading': 'Loading the lesson…',
  'lesson.notFound': 'There is no lesson “{id}”.',
  'lesson.error': 'Could not load the lesson: {msg}',
  'lesson.back': 'All lessons',
  'lesson.fallback': 'This lesson is not translated into {lang} yet, so it is shown in English.',
  'lesson.steps': 'Steps',
  'lesson.progress': '{done} of {total} steps done',
  'lesson.current': 'Current step',
  'step.pending': 'Not done yet',
  'step.passed': 'Done',
  'step.failed': 'Not quite',
  'step.checkBroken': 'Check problem',
  'complete.title': 'Lesson complete!',
  'complete.body': 'Every step passed. Your sandbox is still yours: keep experimenting, or move on.',
  'complete.next': 'Next lesson: {title}',
  'complete.list': 'Back to lessons',
  'complete.announce': 'Lesson complete: every step passed.',
  'announce.passed': 'Step {n} passed: {title}',
  'run.sending': 'Typed into terminal {n}',
  'terms.label': 'Terminals',
  'terms.tab': 'Terminal {n}',
  'terms.ns': '· new {kinds}',
  'terms.nsTitle': 'The shell at this prompt is in its own {kinds} namespace, not the sandbox\'s (for example after unshare). Type exit to go back to the outer shell.',
  'terms.new': 'New terminal',
  'terms.closeTab': 'Close terminal {n}',
  'terms.limit': 'This lab allows at most {n} terminals.',
  'terms.exited': 'The shell in this terminal has exited. Press Enter to start a new one.',
  'terms.search': 'Search the output',
  'terms.searchPlaceholder': 'Find in terminal',
  'terms.searchNext': 'Next match',
  'terms.searchPrev': 'Previous match',
  'terms.searchClose': 'Close search',
  'conn.connecting': 'Connecting',
  'conn.connected': 'Connected',
  'conn.reconnecting': 'Reconnecting',
  'conn.offline': 'Disconnected',
  'conn.starting': 'Starting your machine',
  'conn.retryNow': 'Reconnect now',
  'reset.button': 'Reset',
  'reset.title': 'Reset the machine: a fresh sandbox, same lesson and progress',
  'reset.confirm': 'Reset the machine? Everything running in your terminals is lost. Passed steps stay passed.',
  'reset.running': 'Resetting…',
  'reset.done': 'Your machine was reset.',
  'died.title': 'Your machine stopped.',
  'died.body': 'The sandbox behind your terminals is gone ({reason}). A reset gives you a fresh one; your progress is kept.',
  'died.unknown': 'no reason given',
  'died.reset': 'Reset now',
  'emptied.title': 'Every program on your machine was killed.',
  'emptied.body': 'Something sent SIGKILL to all processes (like `kill -9 -1`): your shells and everything running in the background are gone. Reset for a fresh machine, or start new shells on this one. Your progress is kept.',
  'emptied.newShells': 'New shells here',
  'full.title': 'The lab is full right now.',
  'full.body': 'Trying again automatically in {n} s…',
  'full.retryNow': 'Retry now',
  'session.error': 'Could not start your machine: {msg}',
  'session.new': 'Start a fresh machine',
  'session.gone': 'Your machine was shut down.',
  'session.goneWhy': 'It was left idle for a while, or the lab server restarted.',
  'session.restored': 'Welcome back. This is a fresh machine; the steps you passed before are kept.',
  'close.generic': 'the connection closed (code {code})',
  'net.error': 'the server could not be reached',
  'conn.replaced': 'This lab is open in another tab or window.',
  'conn.useHere': 'Use it here',
  'expiring.idle': 'You have been idle for a while: this machine stops in {n} min unless you use it.',
  'expiring.lifetime': 'This machine reaches its time limit in {n} min.',
  'split.label': 'Resize the lesson and terminal panes',
  'cancel': 'Cancel',
  'conn.lost': 'The connection to the lab was lost.',
  'page.notFound': 'There is nothing at “{path}”.',
  'shortcuts.closeTab': 'Close the focused terminal tab',
  'session.wait': 'Your machine cannot start just yet.',
  'shortcuts.copy': 'Copy the terminal selection (Ctrl+C stays interrupt)',
  'prefs.screenReader': 'Screen reader mode for the terminals',
  'dismiss': 'Dismiss',
};

export type MessageKey = keyof typeof en;
type Catalog = Record<MessageKey, string>;

const ko: Catalog = {
  'app.name': 'nslab',
  'app.tagline': '직접 해 보는 리눅스 네임스페이스',
  'skip.main': '본문으로 건너뛰기',
  'nav.lessons': '레슨',
  'lang.label': '언어',
  'theme.toDark': '어두운 테마로 전환',
  'theme.toLight': '밝은 테마로 전환',
  'shortcuts.open': '단축키',
  'shortcuts.title': '단축키',
  'shortcuts.close': '닫기',
  'shortcuts.term': '터미널 1–9로 이동',
  'shortcuts.new': '터미널 하나 더 열기',
  'shortcuts.nextTerm': '다음 / 이전 터미널',
  'shortcuts.lesson': '레슨으로 이동 (터미널에서 나가기)',
  'shortcuts.step': '현재 단계로 이동',
  'shortcuts.search': '터미널 출력 검색',
  'shortcuts.help': '이 목록 보기',
  'list.title': '레슨',
  'list.intro': '레슨마다 root 권한을 가진 나만의 리눅스 머신이 브라우저에서 주어집니다. 무엇이든 마음껏 망가뜨려 보세요. 초기화하면 원래대로 돌아옵니다.',
  'list.minutes': '{n}분',
  'list.start': '시작',
  'list.continue': '이어서 하기',
  'list.empty': '이 서버에는 아직 설치된 레슨이 없습니다.',
  'list.loading': '레슨을 불러오는 중…',
  'list.error': '레슨을 불러오지 못했습니다: {msg}',
  'retry': '다시 시도',
  'lesson.loading': '레슨을 불러오는 중…',
  'lesson.notFound': '“{id}” 레슨이 없습니다.',
  'lesson.error': '레슨을 불러오지 못했습니다: {msg}',
  'lesson.back': '전체 레슨',
  'lesson.fallback': '이 레슨은 아직 {lang}로 번역되지 않아 영어로 표시합니다.',
  'lesson.steps': '단계',
  'lesson.progress': '{total}단계 중 {done}단계 완료',
  'lesson.current': '현재 단계',
  'step.pending': '아직 하지 않음',
  'step.passed': '완료',
  'step.failed': '조금만 더',
  'step.checkBroken': '검사 오류',
  'complete.title': '레슨 완료!',
  'complete.body': '모든 단계를 통과했습니다. 샌드박스는 그대로 남아 있으니 더 실험해 보거나 다음으로 넘어가세요.',
  'complete.next': '다음 레슨: {title}',
  'complete.list': '레슨 목록으로',
  'complete.announce': '레슨 완료: 모든 단계를 통과했습니다.',
  'announce.passed': '{n}단계 통과: {title}',
  'run.sending': '터미널 {n}에 입력했습니다',
  'terms.label': '터미널',
  'terms.tab': '터미널 {n}',
  'terms.ns': '· 새 {kinds}',
  'terms.nsTitle': '이 프롬프트의 셸은 샌드박스가 아닌 자기만의 {kinds} 네임스페이스에 있습니다(예: unshare 실행 후). 바깥 셸로 돌아가려면 exit를 입력하세요.',
  'terms.new': '새 터미널',
  'terms.closeTab': '터미널 {n} 닫기',
  'terms.limit': '이 실습 환경에서는 터미널을 최대 {n}개까지 열 수 있습니다.',
  'terms.exited': '이 터미널의 셸이 종료되었습니다. Enter를 누르면 새 셸을 시작합니다.',
  'terms.search': '출력 검색',
  'terms.searchPlaceholder': '터미널에서 찾기',
  'terms.searchNext': '다음 결과',
  'terms.searchPrev': '이전 결과',
  'terms.searchClose': '검색 닫기',
  'conn.connecting': '연결 중',
  'conn.connected': '연결됨',
  'conn.reconnecting': '다시 연결 중',
  'conn.offline': '연결 끊김',
  'conn.starting': '머신을 시작하는 중',
  'conn.retryNow': '지금 다시 연결',
  'reset.button': '초기화',
  'reset.title': '머신 초기화: 새 샌드박스, 레슨과 진행 상황은 유지',
  'reset.confirm': '머신을 초기화할까요? 터미널에서 실행 중인 것은 모두 사라집니다. 통과한 단계는 유지됩니다.',
  'reset.running': '초기화 중…',
  'reset.done': '머신을 초기화했습니다.',
  'died.title': '머신이 멈췄습니다.',
  'died.body': '터미널 뒤의 샌드박스가 사라졌습니다({reason}). 초기화하면 새 샌드박스를 받습니다. 진행 상황은 유지됩니다.',
  'died.unknown': '알 수 없는 이유',
  'died.reset': '지금 초기화',
  'emptied.title': '머신의 모든 프로그램이 강제 종료되었습니다.',
  'emptied.body': '모든 프로세스에 SIGKILL이 전달되었습니다(`kill -9 -1` 등). 셸과 백그라운드에서 실행 중이던 것이 모두 사라졌습니다. 초기화해 새 머신을 받거나 이 머신에서 새 셸을 시작하세요. 진행 상황은 유지됩니다.',
  'emptied.newShells': '여기서 새 셸 시작',
  'full.title': '지금은 실습 환경이 가득 찼습니다.',
  'full.body': '{n}초 후 자동으로 다시 시도합니다…',
  'full.retryNow': '지금 다시 시도',
  'session.error': '머신을 시작하지 못했습니다: {msg}',
  'session.new': '새 머신 시작',
  'session.gone': '머신이 종료되었습니다.',
  'session.goneWhy': '한동안 사용하지 않았거나 실습 서버가 다시 시작되었습니다.',
  'session.restored': '다시 오신 것을 환영합니다. 새 머신이지만, 전에 통과한 단계는 그대로 남아 있습니다.',
  'close.generic': '연결이 닫혔습니다(코드 {code})',
  'net.error': '서버에 연결할 수 없습니다',
  'conn.replaced': '이 실습 환경이 다른 탭이나 창에서 열려 있습니다.',
  'conn.useHere': '여기서 사용',
  'expiring.idle': '한동안 사용하지 않았습니다. 계속 사용하지 않으면 {n}분 후 머신이 멈춥니다.',
  'expiring.lifetime': '이 머신은 {n}분 후 사용 시간이 끝납니다.',
  'split.label': '레슨과 터미널 창 크기 조절',
  'cancel': '취소',
  'conn.lost': '실습 환경과의 연결이 끊어졌습니다.',
  'page.notFound': '“{path}”에는 아무것도 없습니다.',
  'shortcuts.closeTab': '포커스된 터미널 탭 닫기',
  'session.wait': '아직 머신을 시작할 수 없습니다.',
  'shortcuts.copy': '터미널에서 선택한 내용 복사 (Ctrl+C는 그대로 인터럽트)',
  'prefs.screenReader': '터미널 화면 낭독기 모드',
  'dismiss': '닫기',
};

const zh: Catalog = {
  'app.name': 'nslab',
  'app.tagline': '动手学习 Linux 命名空间',
  'skip.main': '跳到正文',
  'nav.lessons': '课程',
  'lang.label': '语言',
  'theme.toDark': '切换到深色主题',
  'theme.toLight': '切换到浅色主题',
  'shortcuts.open': '键盘快捷键',
  'shortcuts.title': '键盘快捷键',
  'shortcuts.close': '关闭',
  'shortcuts.term': '切换到终端 1–9',
  'shortcuts.new': '再打开一个终端',
  'shortcuts.nextTerm': '下一个 / 上一个终端',
  'shortcuts.lesson': '回到课程（离开终端）',
  'shortcuts.step': '跳到当前步骤',
  'shortcuts.search': '搜索终端输出',
  'shortcuts.help': '显示此列表',
  'list.title': '课程',
  'list.intro': '每节课都会在浏览器里给你一台属于你自己的 Linux 机器，拥有 root 权限。随便折腾——重置即可恢复。',
  'list.minutes': '{n} 分钟',
  'list.start': '开始',
  'list.continue': '继续',
  'list.empty': '此服务器上还没有安装课程。',
  'list.loading': '正在加载课程…',
  'list.error': '无法加载课程：{msg}',
  'retry': '重试',
  'lesson.loading': '正在加载课程…',
  'lesson.notFound': '没有名为“{id}”的课程。',
  'lesson.error': '无法加载课程：{msg}',
  'lesson.back': '全部课程',
  'lesson.fallback': '本课程尚未翻译成{lang}，因此以英文显示。',
  'lesson.steps': '步骤',
  'lesson.progress': '已完成 {done} / {total} 步',
  'lesson.current': '当前步骤',
  'step.pending': '尚未完成',
  'step.passed': '已完成',
  'step.failed': '还差一点',
  'step.checkBroken': '检查出错',
  'complete.title': '课程完成！',
  'complete.body': '所有步骤都已通过。沙箱仍然归你所有：可以继续实验，也可以进入下一课。',
  'complete.next': '下一课：{title}',
  'complete.list': '返回课程列表',
  'complete.announce': '课程完成：所有步骤均已通过。',
  'announce.passed': '第 {n} 步已通过：{title}',
  'run.sending': '已输入到终端 {n}',
  'terms.label': '终端',
  'terms.tab': '终端 {n}',
  'terms.ns': '· 新 {kinds}',
  'terms.nsTitle': '此提示符所在的 shell 处于自己的 {kinds} 命名空间，而不是沙箱的（例如运行 unshare 之后）。输入 exit 可回到外层 shell。',
  'terms.new': '新终端',
  'terms.closeTab': '关闭终端 {n}',
  'terms.limit': '此实验环境最多允许 {n} 个终端。',
  'terms.exited': '此终端中的 shell 已退出。按 Enter 键启动一个新的 shell。',
  'terms.search': '搜索输出',
  'terms.searchPlaceholder': '在终端中查找',
  'terms.searchNext': '下一个匹配项',
  'terms.searchPrev': '上一个匹配项',
  'terms.searchClose': '关闭搜索',
  'conn.connecting': '正在连接',
  'conn.connected': '已连接',
  'conn.reconnecting': '正在重新连接',
  'conn.offline': '已断开',
  'conn.starting': '正在启动你的机器',
  'conn.retryNow': '立即重新连接',
  'reset.button': '重置',
  'reset.title': '重置机器：全新的沙箱，课程和进度保持不变',
  'reset.confirm': '要重置机器吗？终端中正在运行的一切都会丢失。已通过的步骤仍算通过。',
  'reset.running': '正在重置…',
  'reset.done': '你的机器已重置。',
  'died.title': '你的机器已停止。',
  'died.body': '终端背后的沙箱已不存在（{reason}）。重置即可获得一个新的沙箱；进度会保留。',
  'died.unknown': '未说明原因',
  'died.reset': '立即重置',
  'emptied.title': '你机器上的所有程序都被强制终止了。',
  'emptied.body': '所有进程都收到了 SIGKILL（例如 `kill -9 -1`）：你的 shell 和后台运行的一切都已消失。重置可获得一台新机器，也可以在这台机器上启动新的 shell。进度会保留。',
  'emptied.newShells': '在此启动新 shell',
  'full.title': '实验环境现在已满。',
  'full.body': '{n} 秒后自动重试…',
  'full.retryNow': '立即重试',
  'session.error': '无法启动你的机器：{msg}',
  'session.new': '启动一台新机器',
  'session.gone': '你的机器已关闭。',
  'session.goneWhy': '它闲置了一段时间，或者实验服务器重启了。',
  'session.restored': '欢迎回来。这是一台新机器，你之前通过的步骤都保留着。',
  'close.generic': '连接已关闭（代码 {code}）',
  'net.error': '无法连接到服务器',
  'conn.replaced': '此实验环境已在另一个标签页或窗口中打开。',
  'conn.useHere': '在这里使用',
  'expiring.idle': '你已经有一段时间没有操作：如果继续闲置，这台机器将在 {n} 分钟后停止。',
  'expiring.lifetime': '这台机器将在 {n} 分钟后到达时间上限。',
  'split.label': '调整课程和终端窗格的大小',
  'cancel': '取消',
  'conn.lost': '与实验环境的连接已断开。',
  'page.notFound': '“{path}”处没有内容。',
  'shortcuts.closeTab': '关闭当前获得焦点的终端标签页',
  'session.wait': '暂时还无法启动你的机器。',
  'shortcuts.copy': '复制终端中选中的内容（Ctrl+C 仍为中断）',
  'prefs.screenReader': '终端的屏幕阅读器模式',
  'dismiss': '关闭',
};

const CATALOGS: Record<Lang, Catalog> = { en, ko, zh };
const STORAGE_KEY = 'nslab.lang';

function initialLang(): Lang {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (isLang(stored)) return stored;
  for (const l of navigator.languages ?? [navigator.language]) {
    const base = l.toLowerCase().split('-')[0];
    if (isLang(base)) return base;
  }
  return 'en';
}

export function isLang(s: unknown): s is Lang {
  return typeof s === 'string' && (LANGS as readonly string[]).includes(s);
}

let current: Lang = initialLang();
const listeners = new Set<(lang: Lang) => void>();

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  if (lang === current) return;
  current = lang;
  localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  for (const fn of listeners) fn(lang);
}

/** Returns an unsubscribe function, so pages can drop their listener on unmount. */
export function onLangChange(fn: (lang: Lang) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const s = CATALOGS[current][key] ?? en[key];
  return params ? s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m)) : s;
}

/** For tests and the catalog check: every language has every key. */
export const CATALOG_KEYS = Object.keys(en) as MessageKey[];
export const catalogs = CATALOGS;
